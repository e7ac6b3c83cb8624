#!/usr/bin/env bash
# Runs the whole test suite. The black-box tests start their own nats-server, so install it
# when it is missing (Debian package `nats-server`; needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  echo "installing nats-server (needed by the black-box tests)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq nats-server
fi

cargo test --locked "$@"
