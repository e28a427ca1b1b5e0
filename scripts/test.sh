#!/usr/bin/env bash
# The whole test suite, as README.md gives it: installs what it needs, checks formatting
# and lints, then runs every test on SQLite and again on a real PostgreSQL started here.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-debian.sh --test

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --all-targets --locked -- -D warnings

echo "== tests on SQLite" >&2
TENANTRY_TEST_PG_URL= cargo test --all-targets --locked

echo "== real-browser test (chromium + playwright-core)" >&2
bash scripts/browser-test.sh

echo "== scim2-tester against a running server" >&2
bash scripts/scim-tester.sh

echo "== pysaml2 as a SAML service provider" >&2
bash scripts/pysaml2-test.sh

echo "== tests on PostgreSQL" >&2
read -r pgdir pgurl < <(bash scripts/pg-test-server.sh)
trap 'bash scripts/pg-test-server.sh stop "$pgdir"' EXIT
TENANTRY_TEST_PG_URL="$pgurl" cargo test --all-targets --locked
