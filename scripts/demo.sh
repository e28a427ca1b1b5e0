#!/usr/bin/env bash
# Builds tenantry and starts `tenantry demo` on embedded SQLite (./data): an MSP `acme`
# with customers `globex` and `initech`, printed with their enrolment links.
# Extra arguments go to `tenantry demo` (e.g. --listen 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cargo build --release --locked
exec ./target/release/tenantry demo "$@"
