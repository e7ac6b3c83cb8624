#!/usr/bin/env bash
# Fuzzes the live API from its own OpenAPI documents with schemathesis (PyPI): the public
# REST API (with a valid session for the routes that need one) and the internal callback
# API. Fails on any 5xx or any answer that breaks the spec. `.ci/run` runs it; it installs
# schemathesis when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=4.32.5
if ! command -v st >/dev/null 2>&1 || ! st --version 2>/dev/null | grep -q "$VERSION"; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi
source tests/support/stack.sh
start_stack
examples=${FUZZ_EXAMPLES:-60}
common=(--checks all --max-examples "$examples" --generation-deterministic --request-timeout 10
        --suppress-health-check all --no-color)
echo "== public API"
st run openapi/openapi.json --url "$GATEWAY_URL" "${common[@]}" \
  -H "Authorization: Bearer bench-fuzz-session"
echo "== internal API"
# A callback for an unknown request is answered 404 only after a short grace period (a fast
# worker may call back before its request is recorded), so these run concurrently.
st run openapi/internal.json --url "$INTERNAL_URL" "${common[@]}" --workers 8 \
  --max-examples "${FUZZ_INTERNAL_EXAMPLES:-30}"
