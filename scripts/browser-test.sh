#!/usr/bin/env bash
# The real-browser tests of passkey sign-in (issue 5) and the portal (issue 8, portal.mjs):
# Debian's chromium driven by
# playwright-core with Chromium's virtual WebAuthn authenticator enrols a new admin from the
# link in the outbox, signs out, signs in with the passkey and completes OIDC authorization
# code flows for a demo client (tests/browser/passkey.mjs). Installs chromium and the npm
# packages when missing; screenshots go to $SCREENSHOT_DIR (default
# target/browser-screenshots).
#
#   TENANTRY_BIN   the server binary (default target/debug/tenantry; `cargo build` makes it)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bin=${TENANTRY_BIN:-target/debug/tenantry}
case $bin in /*) ;; *) bin=$root/$bin ;; esac
if [ ! -x "$bin" ]; then
  echo "browser-test: $bin does not exist: run cargo build (or set TENANTRY_BIN)" >&2
  exit 1
fi
export SCREENSHOT_DIR=${SCREENSHOT_DIR:-$root/target/browser-screenshots}
chromium=/usr/bin/chromium

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_install() {
  echo "browser-test: installing $*" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

# Chromium from Debian (playwright never downloads a browser here).
[ -x "$chromium" ] || apt_install chromium
# Node.js 20 or later for playwright-core.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "browser-test: Node.js $(node --version) is too old: playwright-core needs 20 or later" >&2
  exit 1
fi

# npm packages, exactly as locked, when missing or older than the lock file.
(
  cd tests/browser
  stamp=node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
    echo "browser-test: npm ci in tests/browser" >&2
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
  fi
)

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
# One field of a JSON object on stdin.
json_field() {
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v==null){console.error("browser-test: no "+process.argv[1]+" in "+s);process.exit(1)}console.log(v)})' "$1"
}

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -eq 0 ]; then
    rm -rf "$tmp"
  else
    if [ -f "$tmp/server.log" ]; then
      echo "browser-test: the server's log (last 40 lines):" >&2
      tail -n 40 "$tmp/server.log" >&2 || true
    fi
    echo "browser-test: FAILED; data dir and server log kept in $tmp, screenshots in $SCREENSHOT_DIR" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)
cb_port=$(free_port)
while [ "$cb_port" = "$port" ]; do cb_port=$(free_port); done

export TENANTRY_DATA_DIR=$tmp/data
export TENANTRY_PUBLIC_URL=http://localhost:$port
export TENANTRY_LISTEN=127.0.0.1:$port
export TENANTRY_LOG_FORMAT=text
unset TENANTRY_DATABASE_URL TENANTRY_CONFIG TENANTRY_SMTP_URL TENANTRY_MASTER_KEY TENANTRY_MASTER_KEY_FILE
mkdir -p "$TENANTRY_DATA_DIR"

msp=acme
customer=globex
tenant=$customer-$msp
admin_email=ops@globex.example
redirect_uri=http://127.0.0.1:$cb_port/cb

"$bin" msp create "$msp" --admin-email boss@acme.example --display-name "Acme MSP" >"$tmp/msp.json" 2>>"$tmp/cli.log"
"$bin" tenant create "$customer" --msp "$msp" --display-name "Globex Corporation" >"$tmp/tenant.json" 2>>"$tmp/cli.log"
"$bin" admin add --tenant "$tenant" --email "$admin_email" --name "Ops Admin" --org-access full \
  >"$tmp/admin.json" 2>>"$tmp/cli.log"
"$bin" client create --tenant "$tenant" --name "Demo app" --redirect-uri "$redirect_uri" \
  >"$tmp/client.json" 2>>"$tmp/cli.log"
client_id=$(json_field client_id <"$tmp/client.json")
client_secret=$(json_field client_secret <"$tmp/client.json")
enrol_url_cli=$(json_field enrolment_url <"$tmp/admin.json")
# For the portal test: the customer's owner (org full) and a network admin (full on Alpha,
# read-only on Beta).
"$bin" admin add --tenant "$tenant" --email owner@globex.example --name "Globex Owner" --org-access full \
  >"$tmp/owner.json" 2>>"$tmp/cli.log"
"$bin" network create --tenant "$tenant" --tag branch Alpha >"$tmp/alpha.json" 2>>"$tmp/cli.log"
"$bin" network create --tenant "$tenant" Beta >"$tmp/beta.json" 2>>"$tmp/cli.log"
alpha_id=$(json_field id <"$tmp/alpha.json")
beta_id=$(json_field id <"$tmp/beta.json")
"$bin" admin add --tenant "$tenant" --email net@globex.example --name "Network Admin" \
  --grant "network:$alpha_id=full" --grant "network:$beta_id=read-only" >"$tmp/net.json" 2>>"$tmp/cli.log"

"$bin" serve >"$tmp/server.log" 2>&1 &
server_pid=$!

# Wait (at most 15 s) for /healthz.
healthy=""
for _ in $(seq 150); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "browser-test: the server exited during start-up" >&2
    exit 1
  fi
  if node -e 'fetch(process.argv[1],{signal:AbortSignal.timeout(1000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' \
    "http://127.0.0.1:$port/healthz"; then
    healthy=1
    break
  fi
  sleep 0.1
done
if [ -z "$healthy" ]; then
  echo "browser-test: the server did not answer /healthz on 127.0.0.1:$port within 15 s" >&2
  exit 1
fi

mkdir -p "$SCREENSHOT_DIR"
rm -f "$SCREENSHOT_DIR"/*.png
TENANT_URL=http://$tenant.localhost:$port \
OUTBOX_DIR=$TENANTRY_DATA_DIR/outbox \
ADMIN_EMAIL=$admin_email \
ENROL_URL_CLI=$enrol_url_cli \
CLIENT_ID=$client_id \
CLIENT_SECRET=$client_secret \
REDIRECT_URI=$redirect_uri \
CHROMIUM=$chromium \
  node tests/browser/passkey.mjs

# The portal (issue 8): passkey sign-in, a customer from a template, admins and the error
# for granting beyond one's own access, a delegation approved and revoked by the customer,
# deleting a customer, switching in (`act`); every page checked with axe-core and
# screenshotted at 1280x800 and 390x844 (tests/browser/portal.mjs).
MSP_URL=http://$msp.localhost:$port \
OUTBOX_DIR=$TENANTRY_DATA_DIR/outbox \
MSP_ADMIN_EMAIL=boss@acme.example \
TEMPLATE=$tenant \
OWNER_EMAIL=owner@globex.example \
NETADMIN_EMAIL=net@globex.example \
BETA_ID=$beta_id \
CHROMIUM=$chromium \
  node tests/browser/portal.mjs
