#!/usr/bin/env bash
# Runs the PyPI package scim2-tester against a running server (issue 6): a virtualenv in
# target/scim-venv with the pinned packages of tests/scim/requirements.txt, a throw-away
# data dir, a customer tenant with a SCIM token, and tests/scim/check.py, which fails on
# any ERROR or CRITICAL result.
#
#   TENANTRY_BIN   the server binary (default target/debug/tenantry)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${TENANTRY_BIN:-target/debug/tenantry}
case $bin in /*) ;; *) bin=$root/$bin ;; esac
[ -x "$bin" ] || { echo "scim-tester: $bin does not exist: run cargo build" >&2; exit 1; }

venv=$root/target/scim-venv
if [ ! -x "$venv/bin/python" ] || [ tests/scim/requirements.txt -nt "$venv/.installed" ]; then
  echo "scim-tester: creating $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/scim/requirements.txt >&2
  touch "$venv/.installed"
fi

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TENANTRY_DATA_DIR=$data TENANTRY_PUBLIC_URL=http://localhost:$port \
  TENANTRY_LISTEN=127.0.0.1:$port TENANTRY_LOG_LEVEL=warn
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

"$bin" msp create acme --admin-email boss@acme.example >/dev/null
"$bin" tenant create globex --msp acme >/dev/null
token=$("$bin" scim-token create --tenant globex-acme --name scim2-tester |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$bin" serve >"$data/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null && break
  sleep 0.1
done
if ! "$venv/bin/python" tests/scim/check.py "http://globex-acme.localhost:$port/scim/v2" "$token"; then
  echo "scim-tester: server log:" >&2
  tail -40 "$data/server.log" >&2
  exit 1
fi
