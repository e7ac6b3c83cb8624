#!/usr/bin/env bash
# Listing one client's pending requests (done on every /events opening) from the NATS
# request store, with the bucket nearly empty and then holding OTHERS other clients'
# requests, on a nats-server of its own. Prints the two medians and their ratio.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OTHERS=${OTHERS:-20000}
cargo build --release --locked --quiet --example pending_listing
dir=$(mktemp -d)
port=$(free_port)
start_nats "$dir" "$port"
out=$("$TARGET/release/examples/pending_listing" --nats "nats://127.0.0.1:$port" --others "$OTHERS")
echo "$out"
result pending_listing "median listing, bucket nearly empty (µs)" "$(json_field "$out" alone_us)"
result pending_listing "median listing, $OTHERS other clients' requests (µs)" "$(json_field "$out" crowded_us)"
result pending_listing "crowded / empty" "$(json_field "$out" ratio)"
rm -rf "$dir"
