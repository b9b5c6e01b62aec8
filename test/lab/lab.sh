#!/usr/bin/env bash
# pgrepl-wizard test lab: two "hosts" (primary, standby) on this machine.
# Each host = network namespace + mount namespace (+ UTS namespace for its
# hostname) with its own sshd and its own PostgreSQL 15 cluster.
# See test/lab/README.md.  Must run as root.
#
# PGW_LAB=N (0-9, default 0) selects an independent lab instance. Instance 0
# uses the original names (pgw-primary, pgwbr0, 10.77.0.0/24, /var/lib/pgw-lab,
# /run/pgw-lab); instance N uses pgwN-primary, pgwbrN, 10.77.N.0/24,
# /var/lib/pgw-labN, /run/pgw-labN. The OS users and /etc/sudoers.d/pgw-lab
# are shared by all instances.
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
readonly PGVER=15
readonly HOSTS=(primary standby)
declare -rA IP=([primary]=$SUBNET.11 [standby]=$SUBNET.12)
declare -rA PGCLUSTER=([primary]=prod [standby]=main)
declare -rA PGPORT=([primary]=5433 [standby]=5432)
readonly PACKAGES=(openssh-server openssh-client sudo postgresql-15 postgresql-contrib-15 iproute2 procps util-linux)
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
usage: lab.sh up | down | status | reset | exec HOST CMD... | env
  HOST is primary or standby
  PGW_LAB=N (0-9, default 0) selects the lab instance
EOF
  exit 2
}

need_root() { [[ $(id -u) == 0 ]] || die "must run as root"; }

valid_host() { [[ ${1-} == primary || ${1-} == standby ]]; }

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

# --- namespace helpers ---------------------------------------------------

netns_name() { printf '%s-%s' "$PFX" "$1"; }      # pgw-primary, pgw5-primary
veth_name() { printf 'pgwv%s-%s' "$SFX" "$1"; }   # pgwv-primary, pgwv5-primary (root-ns end)
host_name() { printf '%s-%s' "$PFX" "$1"; }
netns_file() { printf '/run/netns/%s' "$(netns_name "$1")"; }
mntns_file() { printf '%s/%s.mnt' "$NSDIR" "$1"; }
utsns_file() { printf '%s/%s.uts' "$NSDIR" "$1"; }
sshd_pidfile() { printf '%s/sshd-%s.pid' "$RUN" "$1"; }

is_mounted() { findmnt -rn -M "$1" >/dev/null 2>&1; }

host_ns_ok() {
  [[ -e $(netns_file "$1") ]] && is_mounted "$(mntns_file "$1")" && is_mounted "$(utsns_file "$1")"
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
  closefds nsenter --mount="$(mntns_file "$h")" --uts="$(utsns_file "$h")" --net="$(netns_file "$h")" -- "$@"
}

sshd_pid() {
  local f pid
  f=$(sshd_pidfile "$1")
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && [[ -d /proc/$pid ]] || return 1
  # comm must be sshd and the process must not be a zombie (PID 1 may not reap)
  local stat
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $stat == "$pid (sshd) "[!Z]* ]] || return 1
  printf '%s' "$pid"
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
# (optionally sparing sshd processes), wait until gone.
kill_host_procs() {
  local h=$1 keep_sshd=$2 pids=() p i
  for i in $(seq 1 50); do
    pids=()
    for p in $(host_pids "$h"); do
      if [[ $keep_sshd == 1 && $(cat "/proc/$p/comm" 2>/dev/null) == sshd ]]; then continue; fi
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
  [[ -x /usr/lib/postgresql/$PGVER/bin/initdb ]] || return 1
  # postgresql-contrib-15 is a virtual package provided by postgresql-15 in bookworm
  st=$(dpkg-query -W -f='${db:Status-Status} ' openssh-server openssh-client sudo postgresql-$PGVER iproute2 procps util-linux 2>/dev/null) || return 1
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

# --- users, keys, sudo ---------------------------------------------------

unlock_for_pubkey() {
  # UsePAM no => sshd rejects accounts whose password field starts with "!".
  local u=$1 pw
  pw=$(getent shadow "$u" | cut -d: -f2)
  if [[ $pw == '!'* ]]; then usermod -p '*' "$u"; fi
}

# Machine-wide, shared by every instance (and never removed by "down").
ensure_users() {
  local u
  for u in labadmin nosudo; do
    id "$u" >/dev/null 2>&1 || useradd -m -d "/home/$u" -s /bin/bash "$u"
  done
  for u in root labadmin nosudo; do unlock_for_pubkey "$u"; done

  local sudoers=/etc/sudoers.d/pgw-lab tmp
  if [[ ! -f $sudoers ]] || ! grep -qx 'labadmin ALL=(ALL) NOPASSWD: ALL' "$sudoers"; then
    tmp=$(mktemp)
    echo 'labadmin ALL=(ALL) NOPASSWD: ALL' >"$tmp"
    visudo -cqf "$tmp" || { rm -f "$tmp"; die "sudoers validation failed"; }
    install -m 0440 -o root -g root "$tmp" "$sudoers"; rm -f "$tmp"
  fi
  visudo -cqf "$sudoers" || die "$sudoers invalid"
}

# Per instance: client key, authorized_keys, host keys, sshd_config, known_hosts.
ensure_keys() {
  local u tmp
  mkdir -p "$CLIENT" "$AUTHDIR"; chmod 700 "$CLIENT"; chmod 755 "$LAB" "$AUTHDIR"
  [[ -s $KEY && -s $KEY.pub ]] || { rm -f "$KEY" "$KEY.pub"; ssh-keygen -q -t ed25519 -N '' -C "pgw-lab$SFX-client" -f "$KEY"; }
  for u in root labadmin nosudo; do
    if ! cmp -s "$KEY.pub" "$AUTHDIR/$u"; then install -m 0644 "$KEY.pub" "$AUTHDIR/$u"; fi
  done

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
         tcp_ssh_ok - "${IP[primary]}" 22 && tcp_ssh_ok - "${IP[standby]}" 22; then
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

# --- hosts (mount ns + sshd) ----------------------------------------------

# Per-host directories that get bind-mounted inside the host.
prepare_host_dirs() {
  local d=$LAB/$1
  mkdir -p "$d"/{etc,lib,run,log,tmp}
  chown postgres:postgres "$d/etc" "$d/lib" "$d/run"; chmod 755 "$d/etc" "$d/lib"; chmod 2775 "$d/run"
  chown root:postgres "$d/log"; chmod 1775 "$d/log"
  chown root:root "$d/tmp"; chmod 1777 "$d/tmp"
  cat >"$d/hosts" <<EOF
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
${IP[primary]}	$(host_name primary)
${IP[standby]}	$(host_name standby)
EOF
  chmod 644 "$d/hosts"
}

ensure_nsdir() {
  mkdir -p "$NSDIR"
  # like /run/netns: a private mount so namespace bind-mounts don't propagate
  if ! is_mounted "$NSDIR"; then mount --bind "$NSDIR" "$NSDIR"; fi
  mount --make-private "$NSDIR"
}

# Runs as PID-to-be-sshd inside the fresh mount+uts namespaces.
# shellcheck disable=SC2016
readonly HOST_INIT='
set -eu
h=$1 d=$2 cfg=$3 sshlog=$4 hn=$5
echo "$hn" >/proc/sys/kernel/hostname
mount --bind "$d/etc" /etc/postgresql
mount --bind "$d/lib" /var/lib/postgresql
mount --bind "$d/run" /run/postgresql
mount --bind "$d/log" /var/log/postgresql
mount --bind "$d/tmp" /tmp
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
exec /usr/sbin/sshd -f "$cfg" -E "$sshlog"
'

start_sshd_in_host() {
  local h=$1 d=$LAB/$1 i
  rm -f "$(sshd_pidfile "$h")"
  mkdir -p /run/sshd; chmod 755 /run/sshd
  if host_ns_ok "$h"; then
    in_host "$h" /usr/sbin/sshd -f "$d/ssh/sshd_config" -E "$d/sshd.log" </dev/null >>"$d/init.log" 2>&1 ||
      die "sshd failed to start in $h (see $d/init.log, $d/sshd.log)"
  else
    local m u
    m=$(mntns_file "$h"); u=$(utsns_file "$h")
    is_mounted "$m" && umount "$m"; is_mounted "$u" && umount "$u"
    : >"$m"; : >"$u"
    closefds nsenter --net="$(netns_file "$h")" -- \
      unshare --mount="$m" --uts="$u" --propagation private \
      /bin/bash -c "$HOST_INIT" pgw-init "$h" "$d" "$d/ssh/sshd_config" "$d/sshd.log" "$(host_name "$h")" \
      </dev/null >>"$d/init.log" 2>&1 9>&- ||
      die "could not start host $h (see $d/init.log, $d/sshd.log)"
  fi
  for i in $(seq 1 50); do sshd_pid "$h" >/dev/null && return 0; sleep 0.1; done
  die "sshd in $h did not come up (see $d/sshd.log)"
}

ensure_host() {
  local h=$1
  if ! host_ns_ok "$h"; then
    # namespace missing/broken: clean whatever is left and start from scratch
    # (including cluster data: a killed postmaster leaves a stale postmaster.pid)
    kill_host_procs "$h" 0
    wipe_host_dirs "$h"
    prepare_host_dirs "$h"
    start_sshd_in_host "$h"
  elif ! sshd_pid "$h" >/dev/null; then
    prepare_host_dirs "$h"
    start_sshd_in_host "$h"
  fi
}

teardown_host() {
  local h=$1 f
  if host_ns_ok "$h"; then
    local ver name _rest
    while read -r ver name _rest; do
      [[ -n $ver ]] || continue
      timeout 30 nsenter --mount="$(mntns_file "$h")" --uts="$(utsns_file "$h")" --net="$(netns_file "$h")" -- \
        pg_ctlcluster "$ver" "$name" stop -m fast </dev/null >/dev/null 2>&1 9>&- || true
    done < <(in_host "$h" pg_lsclusters -h 2>/dev/null || true)
  fi
  kill_host_procs "$h" 0
  for f in "$(mntns_file "$h")" "$(utsns_file "$h")"; do
    is_mounted "$f" && umount "$f"
    rm -f "$f"
  done
  rm -f "$(sshd_pidfile "$h")"
  if [[ -e $(netns_file "$h") ]]; then ip netns del "$(netns_name "$h")" 2>/dev/null || true; fi
  ip link del "$(veth_name "$h")" >/dev/null 2>&1 || true
}

# --- PostgreSQL clusters ----------------------------------------------------

pgq() { # pgq HOST SQL... : psql as postgres on the host's lab cluster
  local h=$1; shift
  in_host "$h" runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "${PGPORT[$h]}" "$@"
}

create_cluster() {
  local h=$1 d=$LAB/$1 name=${PGCLUSTER[$1]} port=${PGPORT[$1]}
  # initdb --no-sync: a lab cluster does not need initdb's final fsync (faster reset)
  in_host "$h" pg_createcluster "$PGVER" "$name" -p "$port" --start -- --no-sync </dev/null >"$d/createcluster.log" 2>&1 ||
    { tail -n 20 "$d/createcluster.log" >&2; die "pg_createcluster $PGVER $name failed in $h"; }
  if [[ $h == primary ]]; then
    in_host "$h" runuser -u postgres -- createdb -p "$port" appdb </dev/null
    pgq "$h" -d appdb >/dev/null <<'SQL'
CREATE TABLE t(id int PRIMARY KEY, note text);
INSERT INTO t VALUES (1, 'alpha'), (2, 'beta'), (3, 'gamma'), (4, 'delta'), (5, 'epsilon');
SQL
  fi
}

# lab cluster status line for HOST from pg_lsclusters inside it ("" if none)
cluster_line() {
  in_host "$1" pg_lsclusters -h 2>/dev/null | awk -v v="$PGVER" -v c="${PGCLUSTER[$1]}" '$1==v && $2==c' || true
}

ensure_cluster() {
  local h=$1 line
  line=$(cluster_line "$h")
  if [[ -z $line ]]; then
    create_cluster "$h"
  elif [[ $(awk '{print $4}' <<<"$line") != online* ]]; then
    in_host "$h" pg_ctlcluster "$PGVER" "${PGCLUSTER[$h]}" start </dev/null >/dev/null 2>&1 ||
      warn "could not start existing cluster $PGVER/${PGCLUSTER[$h]} in $h"
  fi
}

# Empty the per-host directories (the bind-mount sources stay in place).
wipe_host_dirs() {
  local d=$LAB/$1 sub
  for sub in etc lib run log tmp; do
    [[ -d $d/$sub ]] || continue
    find "$d/$sub" -mindepth 1 -delete 2>/dev/null || find "$d/$sub" -mindepth 1 -maxdepth 1 -exec rm -rf {} + || true
  done
}

# Wipe everything PostgreSQL-related in HOST and create its cluster afresh.
reset_host() {
  local h=$1 ver name _rest
  while read -r ver name _rest; do
    [[ -n $ver ]] || continue
    timeout 30 nsenter --mount="$(mntns_file "$h")" --uts="$(utsns_file "$h")" --net="$(netns_file "$h")" -- \
      pg_dropcluster --stop "$ver" "$name" </dev/null >/dev/null 2>&1 9>&- || true
  done < <(in_host "$h" pg_lsclusters -h 2>/dev/null || true)
  # anything still running in the host except sshd (stray postmasters, pg_basebackup, sessions' children)
  kill_host_procs "$h" 1
  wipe_host_dirs "$h"
  prepare_host_dirs "$h"
  create_cluster "$h"
}

write_config() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp" <<EOF
primary: labadmin@${IP[primary]}
standby: labadmin@${IP[standby]}
primaryCluster: $PGVER/${PGCLUSTER[primary]}
standbyCluster: $PGVER/${PGCLUSTER[standby]}
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
    out=$(lab_ssh "labadmin@${IP[$h]}" sudo -n -u postgres psql -p "${PGPORT[$h]}" -Atc "'select 1'" 2>&1) || {
      [[ ${1-} == quiet ]] || warn "ssh/sudo/psql check failed on $h: $out"; return 1; }
    [[ $out == 1 ]] || { [[ ${1-} == quiet ]] || warn "unexpected psql output on $h: $out"; return 1; }
  done
  tcp_ssh_ok "$(netns_name standby)" "${IP[primary]}" 22 || { [[ ${1-} == quiet ]] || warn "standby -> ${IP[primary]}:22 failed"; return 1; }
  [[ -s $CONFIG ]] || return 1
}

healthy() {
  local h
  for h in "${HOSTS[@]}"; do
    host_ns_ok "$h" && sshd_pid "$h" >/dev/null || return 1
    [[ $(cluster_line "$h" | awk '{print $4}') == online* ]] || return 1
  done
  ip link show "$BR" >/dev/null 2>&1 || return 1
  verify quiet
}

# --- commands -----------------------------------------------------------------

instance_note() { [[ $INSTANCE == 0 ]] || printf ' [PGW_LAB=%s]' "$INSTANCE"; }

cmd_up() {
  need_root
  take_lock
  take_shared_lock
  ensure_packages
  release_shared_lock
  if healthy; then log "already up$(instance_note) (primary ${IP[primary]}, standby ${IP[standby]})"; return 0; fi
  take_shared_lock
  ensure_users
  release_shared_lock
  mkdir -p "$LAB"; chmod 755 "$LAB"
  ensure_keys
  ensure_nsdir
  ensure_network
  local h
  for h in "${HOSTS[@]}"; do ensure_host "$h"; done
  ensure_connectivity
  local pids=() p rc=0
  for h in "${HOSTS[@]}"; do ensure_cluster "$h" 9>&- & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [[ $rc == 0 ]] || die "cluster setup failed"
  write_config
  verify || die "verification failed"
  local rows
  rows=$(pgq primary -d appdb -Atc 'select count(*) from t')
  log "network$(instance_note): $BR ${BR_CIDR}; primary ${IP[primary]}, standby ${IP[standby]}"
  for h in "${HOSTS[@]}"; do
    log "$h: sshd pid $(sshd_pid "$h"), cluster $(cluster_line "$h" | awk '{print $1"/"$2" port "$3" "$4}')"
  done
  log "primary appdb.t: $rows rows; users root, labadmin (sudo), nosudo"
  log "verified: ssh+sudo+psql as labadmin on both hosts, standby -> ${IP[primary]}:22"
  log "config: $CONFIG"
}

cmd_down() {
  need_root
  take_lock
  local h
  for h in "${HOSTS[@]}"; do
    teardown_host "$h"
    rm -rf "${LAB:?}/$h/"{etc,lib,run,log,tmp,hosts}
  done
  ip link del "$BR" >/dev/null 2>&1 || true
  if is_mounted "$NSDIR"; then umount "$NSDIR" || umount -l "$NSDIR"; fi
  log "down$(instance_note) (kept host keys in $LAB/<host>/ssh and client key in $CLIENT)"
}

cmd_status() {
  need_root
  local h ok=0 pid line sshd_s cl_s
  for h in "${HOSTS[@]}"; do
    if ! host_ns_ok "$h"; then
      printf '%-8s %-11s down (no namespace)\n' "$h" "${IP[$h]}"; ok=1; continue
    fi
    if pid=$(sshd_pid "$h"); then sshd_s="sshd running (pid $pid)"; else sshd_s="sshd NOT running"; ok=1; fi
    line=$(cluster_line "$h")
    if [[ -n $line ]]; then
      cl_s="cluster $(awk '{print $1"/"$2" port "$3" "$4}' <<<"$line")"
      [[ $(awk '{print $4}' <<<"$line") == online* ]] || ok=1
    else
      cl_s="cluster $PGVER/${PGCLUSTER[$h]} MISSING"; ok=1
    fi
    printf '%-8s %-11s %s; %s\n' "$h" "${IP[$h]}" "$sshd_s" "$cl_s"
    local others
    others=$(in_host "$h" pg_lsclusters -h 2>/dev/null | awk -v v="$PGVER" -v c="${PGCLUSTER[$h]}" '!($1==v && $2==c){print "  also: "$1"/"$2" port "$3" "$4}' || true)
    [[ -z $others ]] || printf '%s\n' "$others"
  done
  return $ok
}

cmd_reset() {
  need_root
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
    [[ $(cluster_line "$h" | awk '{print $4}') == online* ]] || die "cluster in $h not online after reset"
  done
  log "reset$(instance_note): primary $PGVER/${PGCLUSTER[primary]}:${PGPORT[primary]} (appdb), standby $PGVER/${PGCLUSTER[standby]}:${PGPORT[standby]}"
}

cmd_exec() {
  need_root
  [[ $# -ge 2 ]] || usage
  local h=$1; shift
  valid_host "$h" || { warn "unknown host '$h' (primary|standby)"; exit 125; }
  host_ns_ok "$h" || { warn "host $h is not up (run: lab.sh up)"; exit 125; }
  exec nsenter --mount="$(mntns_file "$h")" --uts="$(utsns_file "$h")" --net="$(netns_file "$h")" -- "$@"
}

cmd_env() {
  cat <<EOF
LAB_PRIMARY_IP=${IP[primary]}
LAB_STANDBY_IP=${IP[standby]}
LAB_KEY=$KEY
LAB_KNOWN_HOSTS=$KNOWN
LAB_CONFIG=$CONFIG
LAB_DIR=$LAB
EOF
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1; shift
  [[ $cmd == exec ]] || normalize_env
  case $cmd in
    up) [[ $# -eq 0 ]] || usage; cmd_up ;;
    down) [[ $# -eq 0 ]] || usage; cmd_down ;;
    status) [[ $# -eq 0 ]] || usage; cmd_status ;;
    reset) [[ $# -eq 0 ]] || usage; cmd_reset ;;
    exec) cmd_exec "$@" ;;
    env) [[ $# -eq 0 ]] || usage; cmd_env ;;
    -h|--help|help) usage ;;
    *) usage ;;
  esac
}

main "$@"
