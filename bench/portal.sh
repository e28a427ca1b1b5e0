#!/usr/bin/env bash
# The MSP overview with 1,000 customers (issue 8; decisions.md "Portal": GET
# /portal/customers answers in <= 100 ms at p95), beside GET /healthz measured in the same
# run. One process (benches/portal_overview.rs, release build): the app on 127.0.0.1, the
# customers made through core, the boss's session minted through core's session service,
# then REQUESTS sequential GETs of the first page, a sorted view, a filtered view and the
# last page. Prints p50/p95/p99; exits 3 if a view's p95 misses the target, 1 on errors.
#
#   CUSTOMERS (default 1000), REQUESTS per view (default 200), DEADLINE seconds per phase
#   (default 120)
#
# Built first (unbounded, a release build takes minutes), then exactly the executable just
# built is run, bounded by timeout, so that a source edit between the two steps cannot turn
# the bounded run into a rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
export CUSTOMERS=${CUSTOMERS:-1000}
export REQUESTS=${REQUESTS:-200}
export DEADLINE=${DEADLINE:-120}
export RUST_LOG=${RUST_LOG:-warn}
EXE=$(cargo bench --bench portal_overview --locked --no-run --message-format=json-render-diagnostics |
  grep -o '"executable":"[^"]*portal_overview[^"]*"' | tail -1 | sed 's/"executable":"\(.*\)"/\1/')
[ -x "$EXE" ] || { echo "bench/portal.sh: the bench did not build" >&2; exit 1; }
# World building (about a minute for 1,000 customers) plus six phases of at most DEADLINE.
exec timeout --signal=INT --kill-after=30 "$(( 6 * DEADLINE + 300 ))" "$EXE" --bench
