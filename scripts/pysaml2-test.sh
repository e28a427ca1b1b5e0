#!/usr/bin/env bash
# Runs the real-SP tests of the SAML IdP (issue 7): the PyPI package pysaml2, pinned in
# tests/saml/requirements.txt, in a virtualenv in target/pysaml2-venv, acting as service
# provider through tests/saml/sp.py. The Rust tests (tests/it/saml_pysaml2.rs) skip unless
# TENANTRY_PYSAML2_PYTHON names that virtualenv's python; here they run, once, on SQLite.
# pysaml2 signs and verifies with the xmlsec1 binary (Debian package xmlsec1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

command -v xmlsec1 >/dev/null 2>&1 || {
  echo "pysaml2-test: xmlsec1 is missing: run scripts/setup-debian.sh --test" >&2
  exit 1
}

venv=$root/target/pysaml2-venv
if [ ! -x "$venv/bin/python" ] || [ tests/saml/requirements.txt -nt "$venv/.installed" ]; then
  echo "pysaml2-test: creating $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/saml/requirements.txt >&2
  touch "$venv/.installed"
fi

TENANTRY_TEST_PG_URL= TENANTRY_PYSAML2_PYTHON=$venv/bin/python \
  cargo test --locked --test it saml_pysaml2 -- --test-threads=1 --nocapture 2>&1 | tee "$root/target/pysaml2-test.log" >&2
grep -q "test result: ok" "$root/target/pysaml2-test.log"
if grep -q "^skipped: TENANTRY_PYSAML2_PYTHON" "$root/target/pysaml2-test.log"; then
  echo "pysaml2-test: the tests skipped although the virtualenv is set" >&2
  exit 1
fi
