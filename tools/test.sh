#!/usr/bin/env bash
# The whole test suite: pytest (Python API, CLI, numerics, simulators) and lit + FileCheck (IR).
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pytest tests
py=$?
lit -q tests/filecheck
ir=$?
echo "lit: $( [ $ir -eq 0 ] && echo passed || echo FAILED )"
if [ $py -ne 0 ]; then exit $py; fi
exit $ir
