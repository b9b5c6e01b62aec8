#!/usr/bin/env bash
# `npm test` after the build: four streams side by side, each in a lab instance of its own, so CI
# waits for the longest, not the sum. The PostgreSQL matrix (test/integration/majors.test.ts,
# minutes of server restarts and clones per pair) is split in two shards (PGW_MATRIX_SHARD);
# each shard's stream first runs a list of other files (while, on a fresh machine, `lab.sh cache`
# still builds the roots the matrix needs), then its half of the pairs. The second stream runs
# the files listed below; the first runs everything else, unit tests and new files included.
# Lines are prefixed with the stream's name. The lists are balanced by each file's time in CI.
# Exit status: non-zero when any stream failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
vitest=node_modules/.bin/vitest
matrix=test/integration/majors.test.ts
second=(faults doctor-replay status least-privilege steps-standby doctor-by-hand)
beside_shard1=(doctor-primary wizard-hostkeys doctor-evidence tls archive sudo-password inspect)
beside_shard2=(doctor-standby steps-primary)

if (($#)); then exec "$vitest" run "$@"; fi   # npm test -- FILE…: just those, in PGW_LAB

files() { local name; for name; do printf 'test/integration/%s.test.ts\n' "$name"; done; }
mapfile -t listed < <(files "${second[@]}" "${beside_shard1[@]}" "${beside_shard2[@]}")

main_lab=${PGW_LAB:-0}
# stream NAME LAB COMMAND…: COMMAND in lab instance LAB, its lines prefixed [NAME].
stream() {
  local name=$1 lab=$2; shift 2
  PGW_LAB=$lab "$@" > >(sed -u "s/^/[$name] /") 2>&1
}
# The files, then the matrix shard K/2, in LAB; non-zero when either failed.
files_then_shard() {
  local k=$1 status=0; shift
  "$vitest" run "$@" || status=1
  PGW_MATRIX_SHARD=$k/2 "$vitest" run "$matrix" || status=1
  return $status
}
mapfile -t beside1 < <(files "${beside_shard1[@]}")
mapfile -t beside2 < <(files "${beside_shard2[@]}")
mapfile -t second_files < <(files "${second[@]}")

stream majors1 $(((main_lab + 5) % 10)) files_then_shard 1 "${beside1[@]}" &
shard1_pid=$!
stream majors2 $(((main_lab + 8) % 10)) files_then_shard 2 "${beside2[@]}" &
shard2_pid=$!
stream half2 $(((main_lab + 3) % 10)) "$vitest" run "${second_files[@]}" &
second_pid=$!
PGW_LAB=$main_lab "$vitest" run --exclude "$matrix" "${listed[@]/#/--exclude=}"
first=$?
wait "$second_pid"; second_status=$?
wait "$shard1_pid"; shard1=$?
wait "$shard2_pid"; shard2=$?
echo "suite: first stream exit $first (lab $main_lab), half2 exit $second_status, majors1 exit $shard1, majors2 exit $shard2"
exit $((first != 0 || second_status != 0 || shard1 != 0 || shard2 != 0))
