# Sourced by the bench scripts that compare devsim with kcat: the release binary, kcat
# (Debian's package, installed if missing), a scratch folder removed on exit, and a
# `devsim broker` (3 mock brokers, 12 partitions) in a process of its own.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
devsim="$repo/target/release/devsim"
[ -x "$devsim" ] || { echo "build it first: cargo build --release" >&2; exit 2; }
command -v kcat >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >&2
work="$(mktemp -d)"
broker_pid=""
trap '[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null; rm -rf "$work"' EXIT

# start_broker TOPIC: starts the broker and sets $brokers to its bootstrap addresses.
start_broker() {
  rm -f "$work/address"
  "$devsim" broker --topic "$1" --partitions 12 --address-file "$work/address" \
    < /dev/null > /dev/null 2>&1 &
  broker_pid=$!
  while [ ! -s "$work/address" ]; do sleep 0.1; done
  brokers="$(cat "$work/address")"
}
stop_broker() { kill "$broker_pid"; wait "$broker_pid" 2>/dev/null || true; broker_pid=""; }
