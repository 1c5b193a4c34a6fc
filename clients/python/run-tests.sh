#!/usr/bin/env bash
# Runs the Python client's tests: creates (or reuses) clients/python/.venv, installs the package
# (editable) with pytest, and runs pytest. The live tests need the meterd binary: $METERD_BINARY,
# else ../../.build/debug/meterd (run `swift build` at the repository root first).
#
#   clients/python/run-tests.sh [pytest arguments...]
#
# Exits non-zero when a test fails, and also when pytest collected no test (its exit code 5).
set -euo pipefail
cd "$(dirname "$0")"

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "== creating clients/python/.venv"
    "$python" -m venv .venv
fi
echo "== installing meterclient (editable) and pytest"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/python -c 'import google.protobuf as p; print("== protobuf runtime", p.__version__)'

echo "== pytest"
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "run-tests.sh: pytest collected no tests; treating that as a failure" >&2
    exit 1
fi
exit "$status"
