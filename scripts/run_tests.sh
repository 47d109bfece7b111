#!/usr/bin/env bash
# The whole suite, as `make test` runs it: two pytest processes side by side.
#
# Most of the suite's wall time on a 2-core machine is waiting, not computing: a fault of
# ours retried for minutes, Redis and Postgres restarted under a running job, a virtual
# machine booting for the cgroup-v2 suite. Those files (SIDE) run in a second pytest
# process beside the rest. They share nothing with it: each process starts its own
# Postgres and Redis on free ports, its own workers and jobs folders, and none of them
# uses the Docker engine (whose leftover check is global: every file that uses it stays in
# the main process). Both must pass; the side process's report is printed after the main
# one's.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
SIDE=(tests/test_fault_tolerance.py tests/test_worker_integration.py tests/test_cgroup_v2.py)
export AUTOGRADER_TEST_REQUIRE_SERVICES=1

log=$(mktemp /tmp/ag-side-tests.XXXXXX)
"$PYTHON" -m pytest -q -p no:cacheprovider --durations=10 "${SIDE[@]}" >"$log" 2>&1 &
side=$!
trap 'kill "$side" 2>/dev/null' INT TERM

ignore=()
for file in "${SIDE[@]}"; do ignore+=("--ignore=$file"); done
"$PYTHON" -m pytest -q -p no:cacheprovider --durations=30 "${ignore[@]}" tests "$@"
main_rc=$?
wait "$side"
side_rc=$?

echo
echo "==> side by side: ${SIDE[*]}"
cat "$log"
rm -f "$log"
echo "==> main suite: exit $main_rc; side suite: exit $side_rc"
[ "$main_rc" -eq 0 ] && [ "$side_rc" -eq 0 ]
