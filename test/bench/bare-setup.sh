#!/usr/bin/env bash
# The runbook's eight steps as a plain shell script against the lab, with the same
# pg_basebackup options the wizard uses: the baseline `npm run bench` compares with.
# BARE_SSH=multiplexed keeps one SSH connection per host (ControlMaster), as a practised
# operator does; otherwise every command opens its own connection.
# Prints "step=<wizard step id> seconds=<s>" per step, then "clone_seconds=<s> clone_kb=<kB>" last.
set -euo pipefail
# Lab addresses and client files of the instance chosen by PGW_LAB (see test/lab/README.md).
while IFS='=' read -r name value; do
  case $name in LAB_PRIMARY_IP | LAB_STANDBY_IP | LAB_KEY | LAB_KNOWN_HOSTS) printf -v "$name" '%s' "$value" ;; esac
done < <(bash "$(dirname "${BASH_SOURCE[0]}")/../lab/lab.sh" env)
key=$LAB_KEY
known=$LAB_KNOWN_HOSTS
primary_ip=$LAB_PRIMARY_IP
standby_ip=$LAB_STANDBY_IP
ssh_options=(-i "$key" -o UserKnownHostsFile="$known" -o StrictHostKeyChecking=yes -o BatchMode=yes)
if [[ ${BARE_SSH:-} == multiplexed ]]; then
  control_dir=$(mktemp -d)
  ssh_options+=(-o ControlMaster=auto -o "ControlPath=$control_dir/%C" -o ControlPersist=60)
  close_masters() {
    for host in "$primary_ip" "$standby_ip"; do ssh "${ssh_options[@]}" -O exit "labadmin@$host" 2>/dev/null || true; done
    rm -rf "$control_dir"
  }
  trap close_masters EXIT
fi
ssh_to() { local host=$1; shift; ssh "${ssh_options[@]}" "labadmin@$host" "$@"; }
primary() { ssh_to "$primary_ip" "$@"; }
standby() { ssh_to "$standby_ip" "$@"; }
psql_primary() { primary sudo -n -u postgres psql -X -q -At -p 5433 -c "\"$1\""; }
password=bench-$RANDOM$RANDOM

# Each step's wall time, under the wizard's step ids, for the per-step comparison.
step_started=$(date +%s.%N)
step_done() {
  local now
  now=$(date +%s.%N)
  echo "step=$1 seconds=$(awk "BEGIN { print $now - $step_started }")"
  step_started=$now
}

psql_primary "CREATE ROLE repl LOGIN REPLICATION PASSWORD '$password'"
step_done replication-role
psql_primary "ALTER SYSTEM SET listen_addresses = 'localhost,$primary_ip'"
primary sudo -n pg_ctlcluster 15 prod restart
step_done primary-settings
primary "echo 'host replication repl $standby_ip/32 scram-sha-256' | sudo -n -u postgres tee -a /etc/postgresql/15/prod/pg_hba.conf >/dev/null"
psql_primary "SELECT pg_reload_conf()" >/dev/null
step_done pg-hba
psql_primary "SELECT pg_create_physical_replication_slot('bench_slot', true)" >/dev/null
step_done replication-slot
standby "umask 077; printf '%s\n' '$primary_ip:5433:replication:repl:$password' | sudo -n -u postgres tee /var/lib/postgresql/.pgpass >/dev/null"
standby sudo -n pg_ctlcluster 15 main stop
standby sudo -n rm -rf /var/lib/postgresql/15/main
start=$(date +%s.%N)
progress=$(standby sudo -n -u postgres /usr/lib/postgresql/15/bin/pg_basebackup -h "$primary_ip" -p 5433 -U repl -D /var/lib/postgresql/15/main -X stream -S bench_slot --checkpoint=fast -P -w 2>&1 >/dev/null)
end=$(date +%s.%N)
# The last -P line's copied kB: the same figure the wizard reports.
kb=$(printf '%s' "$progress" | tr '\r' '\n' | sed -n 's#^ *\([0-9]*\)/[0-9]* kB.*#\1#p' | tail -1)
step_done clone-standby
standby "sudo -n -u postgres touch /var/lib/postgresql/15/main/standby.signal; printf '%s\n' \"primary_conninfo = 'host=$primary_ip port=5433 user=repl passfile=/var/lib/postgresql/.pgpass application_name=bench'\" \"primary_slot_name = 'bench_slot'\" | sudo -n -u postgres tee -a /var/lib/postgresql/15/main/postgresql.auto.conf >/dev/null"
step_done recovery-config
standby sudo -n pg_ctlcluster 15 main start
step_done start-standby
# Wait for streaming.
for _ in $(seq 1 600); do
  state=$(psql_primary "SELECT state FROM pg_stat_replication WHERE application_name = 'bench'")
  [[ $state == streaming ]] && break
  sleep 0.1
done
[[ $state == streaming ]] || { echo "bare setup: standby did not stream" >&2; exit 1; }
step_done verify-streaming
echo "clone_seconds=$(awk "BEGIN { print $end - $start }") clone_kb=$kb"
