#!/usr/bin/env bash
# Installs what tenantry needs on Debian, only what is missing: build tools, and the
# PostgreSQL server the test suite runs against. Root or sudo is needed for apt-get.
set -euo pipefail

# libxml2, xmlsec1 and libclang: samael (SAML) signs and verifies XML with xmlsec.
packages=(build-essential pkg-config libssl-dev ca-certificates libxml2-dev libxmlsec1-dev libclang-dev)
if [ "${1:-}" = "--test" ]; then
  # xmlsec1: the binary pysaml2 (scripts/pysaml2-test.sh) signs and verifies with.
  packages+=(postgresql xmlsec1)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is not installed: install it with rustup (https://rustup.rs), then re-run." >&2
  exit 1
fi
if [ "${1:-}" = "--test" ]; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
