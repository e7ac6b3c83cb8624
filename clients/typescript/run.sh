#!/usr/bin/env bash
# The TypeScript client check: the committed `src/schema.d.ts` must be what the generator
# makes of the committed spec, and the client must work against a running gateway (login
# through the NoETL stand-in, then validate). Needs node; `.ci/run` runs it when present.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
fresh=$(mktemp --suffix=.d.ts)
npx --no-install openapi-typescript ../../openapi/openapi.json -o "$fresh" >/dev/null
if ! diff -q "$fresh" src/schema.d.ts >/dev/null; then
  diff -u src/schema.d.ts "$fresh" | head -40 || true
  echo "clients/typescript/src/schema.d.ts is stale: run \`npm run generate\` in clients/typescript and commit it" >&2
  exit 1
fi
rm -f "$fresh"
cd ../..
source tests/support/stack.sh
start_stack
cd clients/typescript
GATEWAY_URL=$GATEWAY_URL npm test --silent
