#!/usr/bin/env bash
# SAML responses signed per second (issue 7, part 6) on a release build, in process
# (benches/saml_sign.rs: the SSO endpoint's builder, signed Assertion in a signed Response),
# on one thread and on two, each beside `openssl speed rsa2048` measured in the same run.
# Bounded: DURATION seconds per phase (default 5), about half a minute in all.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
command -v openssl >/dev/null || {
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq openssl >/dev/null
}
BIN=$(cargo bench --locked --bench saml_sign --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*saml_sign[^"]*"' | tail -1 | sed 's/"executable":"\(.*\)"/\1/')
[ -x "$BIN" ] || { echo "saml_sign bench did not build" >&2; exit 1; }

SIGN=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}')
echo "baseline: openssl speed rsa2048 sign/s, one core: ${SIGN:-n/a}"
OUT=$(DURATION=$DURATION timeout $((DURATION * 6 + 60)) "$BIN" --bench)
printf '%s\n' "$OUT"
if [ -n "${SIGN:-}" ]; then
  for threads in 1 2; do
    RATE=$(printf '%s\n' "$OUT" | awk -v t="$threads" '$0 ~ "responses signed/s, " t " thread" {print $5}')
    awk -v r="$RATE" -v s="$SIGN" -v t="$threads" 'BEGIN {
      printf "responses signed/s with %d thread(s): %s = %.2f x openssl rsa2048 sign/s (%s); two signatures each: ceiling %.0f/s per core\n", t, r, r / s, s, s / 2 }'
  done
fi
