#!/usr/bin/env bash
# `npm test` after the build: three streams side by side, each in a lab instance of its own, so CI
# waits for the longest, not the sum. The PostgreSQL matrix (test/integration/majors.test.ts,
# minutes of server restarts and clones per pair) is one stream, its lines prefixed [majors];
# the rest of the suite is split in two halves of about equal time (the second listed below,
# prefixed [half2]; the first is everything else, unit tests included).
# Exit status: non-zero when any stream failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
vitest=node_modules/.bin/vitest
matrix=test/integration/majors.test.ts
half2=(faults status archive steps-primary steps-standby doctor-replay doctor-evidence sudo-password tls least-privilege wizard-hostkeys)
half2=("${half2[@]/#/test/integration/}"); half2=("${half2[@]/%/.test.ts}")

if (($#)); then exec "$vitest" run "$@"; fi   # npm test -- FILE…: just those, in PGW_LAB

main_lab=${PGW_LAB:-0}
matrix_lab=${PGW_MATRIX_LAB:-$(((main_lab + 5) % 10))}
half_lab=${PGW_HALF_LAB:-$(((main_lab + 3) % 10))}
PGW_LAB=$matrix_lab "$vitest" run "$matrix" > >(sed -u 's/^/[majors] /') 2>&1 &
matrix_pid=$!
PGW_LAB=$half_lab "$vitest" run "${half2[@]}" > >(sed -u 's/^/[half2] /') 2>&1 &
half_pid=$!
"$vitest" run --exclude "$matrix" "${half2[@]/#/--exclude=}"
first=$?
wait "$half_pid"
second=$?
wait "$matrix_pid"
matrix_status=$?
echo "suite: first half exit $first (lab $main_lab), second half exit $second (lab $half_lab), PostgreSQL matrix exit $matrix_status (lab $matrix_lab)"
exit $((first != 0 || second != 0 || matrix_status != 0))
