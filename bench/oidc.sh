#!/usr/bin/env bash
# OIDC throughput on a release build over loopback, each figure beside baselines measured
# in the same run: a trivial route (/healthz) for raw HTTP overhead and `openssl speed`
# for ES256 signing. Installs wrk from Debian's packages if missing. Bounded: about one
# minute of load in all, on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# BIN=path runs that binary instead of building (to compare two builds in one sitting).
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q
  BIN=./target/release/tenantry
fi
cargo build --release --locked -q --example token_floor
FLOOR_BIN=./target/release/examples/token_floor
DATA=$(mktemp -d)
PORT=$(( 30000 + RANDOM % 20000 ))
export TENANTRY_DATA_DIR=$DATA TENANTRY_PUBLIC_URL=http://localhost:$PORT TENANTRY_LOG_LEVEL=warn
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT

$BIN msp create acme --admin-email bench@acme.example >/dev/null
$BIN tenant create globex --msp acme >/dev/null
OUT=$($BIN client create --tenant globex-acme --name bench --grant client_credentials --scope privileges)
CID=$(printf '%s' "$OUT" | grep -o '"client_id": *"[^"]*"' | head -1 | sed 's/.*: *"\(.*\)"/\1/')
SECRET=$(printf '%s' "$OUT" | grep -o '"client_secret": *"[^"]*"' | head -1 | sed 's/.*: *"\(.*\)"/\1/')
BASIC=$(printf '%s:%s' "$CID" "$SECRET" | base64 -w0)

$BIN serve --listen 127.0.0.1:$PORT &
PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
HOST="globex-acme.localhost:$PORT"
curl -fs -H "Host: $HOST" "http://127.0.0.1:$PORT/.well-known/jwks.json" >/dev/null
sleep 1
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)

ticks() { awk '{print $14 + $15}' /proc/$PID/stat; }
HZ=$(getconf CLK_TCK)
LUA=$(mktemp --suffix .lua)
run() { # name, then wrk arguments; prints req/s and requests per server CPU-second
  local name=$1; shift
  local t0; t0=$(ticks)
  local out; out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" "$@")
  local t1; t1=$(ticks)
  local rps; rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
  local total; total=$(printf '%s\n' "$out" | awk '/requests in/ {print $1}')
  local cpu; cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}')
  local per; per=$(awk -v n="$total" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "n/a" }')
  local errs; errs=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $5}')
  local us; us=$(awk -v n="$total" -v c="$cpu" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n; else print "n/a" }')
  LAST_US=$us
  printf '%-22s %10s req/s  %9s req per server CPU-second, %s us each  (server CPU %ss, non-2xx %s)\n' "$name" "$rps" "$per" "$us" "$cpu" "${errs:-0}"
}

echo "== tenantry OIDC benchmark: ${DURATION}s per run, $CONNS connections, wrk on the same $(nproc) cores"
echo "machine load before the runs (other work shares these cores):$(uptime | sed 's/.*load average//')"
echo "idle RSS after start and first JWKS: $((RSS_KB / 1024)) MB (target <= 30 MB)"
SIGN=$(openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1)}')
echo "baseline: openssl ES256 signatures/s on one core: ${SIGN:-n/a}"
post_lua() { # body: a wrk script POSTing it as a form with the client's Basic credentials
  cat >"$LUA" <<LUAEOF
wrk.method = "POST"
wrk.body = "$1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $BASIC"
wrk.headers["Host"] = "$HOST"
LUAEOF
}
run "healthz (baseline)" "http://127.0.0.1:$PORT/healthz"
run "jwks" -H "Host: $HOST" "http://127.0.0.1:$PORT/.well-known/jwks.json"
post_lua "grant_type=client_credentials&scope=privileges"
run "client_credentials" -s "$LUA" "http://127.0.0.1:$PORT/oauth2/token"
CC_US=$LAST_US
TOKEN=$(curl -fs -X POST -H "Host: $HOST" -H "Authorization: Basic $BASIC" -d 'grant_type=client_credentials&scope=privileges' "http://127.0.0.1:$PORT/oauth2/token" | grep -o '"access_token":"[^"]*"' | sed 's/.*:"\(.*\)"/\1/')
post_lua "token=$TOKEN"
run "introspection" -s "$LUA" "http://127.0.0.1:$PORT/oauth2/introspect"
# The floor: the same HTTP stack and signer with nothing else (examples/token_floor.rs).
kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true
$FLOOR_BIN 127.0.0.1:$PORT &
PID=$!
for _ in $(seq 100); do curl -fs -X POST "http://127.0.0.1:$PORT/oauth2/token" >/dev/null && break; sleep 0.1; done
post_lua "grant_type=client_credentials&scope=privileges"
run "floor: sign only" -s "$LUA" "http://127.0.0.1:$PORT/oauth2/token"
awk -v a="$CC_US" -v b="$LAST_US" 'BEGIN { if (b > 0) printf "client_credentials costs %.2f x the floor'"'"'s server CPU per request (%.1f us more)\n", a / b, a - b }'
rm -f "$LUA"
echo "targets: client_credentials >= 20000 req per server CPU-second; introspection >= 30000 req/s"
echo "machine load after the runs:$(uptime | sed 's/.*load average//')"
