#!/usr/bin/env bash
# Passkey sign-ins per second end to end (issue 5; decisions.md "Passkeys": >= 1,500/s or
# >= 0.4 x the SQLite commit rate of the same run), beside baselines measured in the same
# run: SQLite commits/s (the server's pool and pragmas, temp dir), GET /healthz req/s and
# the client's own signing rate. One process (benches/passkey_login.rs, release build):
# the app on 127.0.0.1 and CONNS clients with software passkeys. Exits non-zero if any
# login failed.
#
# `cargo bench --bench passkey_login --locked` in two steps: build (unbounded, a release
# build takes minutes), then run exactly the executable just built, bounded by timeout
# (five phases of DURATION seconds plus start-up; killed after 5 x DURATION + 120 s). Two
# steps so that a source edit between them cannot turn the bounded run into a rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
export DURATION=${DURATION:-10}
export CONNS=${CONNS:-16}
# Server logs at warn and above go to stderr; the bench reports failures itself.
export RUST_LOG=${RUST_LOG:-warn}
EXE=$(cargo bench --bench passkey_login --locked --no-run --message-format=json-render-diagnostics |
  grep -o '"executable":"[^"]*passkey_login[^"]*"' | tail -1 | sed 's/"executable":"\(.*\)"/\1/')
[ -x "$EXE" ] || { echo "bench/passkey.sh: the bench did not build" >&2; exit 1; }
exec timeout --signal=INT --kill-after=30 "$(( 5 * ${DURATION%.*} + 120 ))" "$EXE" --bench
