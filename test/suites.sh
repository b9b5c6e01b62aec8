#!/usr/bin/env bash
# `npm test` after the build: the PostgreSQL matrix (test/integration/majors.test.ts, minutes
# of server restarts and clones per pair) runs in a lab instance of its own, beside the rest of
# the suite in the default instance, so CI waits for the longer of the two, not their sum.
# Its lines are prefixed with [majors]. Exit status: non-zero when either failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
vitest=node_modules/.bin/vitest
matrix=test/integration/majors.test.ts

if (($#)); then exec "$vitest" run "$@"; fi   # npm test -- FILE…: just those, in PGW_LAB

main_lab=${PGW_LAB:-0}
matrix_lab=${PGW_MATRIX_LAB:-$(((main_lab + 5) % 10))}
PGW_LAB=$matrix_lab "$vitest" run "$matrix" > >(sed -u 's/^/[majors] /') 2>&1 &
matrix_pid=$!
"$vitest" run --exclude "$matrix"
rest=$?
wait "$matrix_pid"
matrix_status=$?
echo "suite: rest of the suite exit $rest (lab $main_lab), PostgreSQL matrix exit $matrix_status (lab $matrix_lab)"
exit $((rest != 0 || matrix_status != 0))
