#!/usr/bin/env bash
# Known-vulnerability audit of the pinned runtime and dev dependencies (PyPI advisory
# data, via pip-audit). Fails when a pinned package has a known vulnerability (the
# report names the package, the advisory and the fixed version) and, with --strict, when
# a package could not be audited at all.
#
# Without access to the advisory service (an air-gapped build machine) it says so and
# exits 0, unless AUDIT_REQUIRED=1, where that is a failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
AUDIT=.venv/bin/pip-audit
[ -x "$AUDIT" ] || .venv/bin/pip install -q -r requirements-dev.txt

# pip-audit asks https://pypi.org/pypi/<name>/<version>/json for each pin: probe with the first one.
first=$(grep -m1 -E '^[A-Za-z0-9_.-]+==' requirements.txt | sed 's/\[.*\]//; s/==/\//')
probe=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "https://pypi.org/pypi/$first/json" || true)
if [ "$probe" != "200" ]; then
  echo "== pip-audit SKIPPED: the PyPI advisory API is unreachable (https://pypi.org/pypi/$first/json: HTTP $probe)"
  [ "${AUDIT_REQUIRED:-0}" = "1" ] && exit 1
  exit 0
fi
for req in requirements.txt requirements-dev.txt; do
  echo "== pip-audit $req"
  # --disable-pip --no-deps: audit exactly the pins, without building a throwaway venv.
  "$AUDIT" -r "$req" --progress-spinner off --disable-pip --no-deps --strict --desc on
done
