#!/usr/bin/env bash
# What a steady RATE msg/s costs, against spec.kafka.linger: devsim run (RATE devices every 1 s,
# default settings otherwise: acks=all, no compression, 12 partitions) beside kcat -P fed the
# same messages at the same rate, for each linger, alternated, against a `devsim broker` in
# a process of its own. Below saturation most of the CPU is librdkafka's per-batch work (a
# wake-up for a partition's first message, one at its linger's end, a request and its answer),
# and the number of batches a second is partitions / linger whatever the producer: this shows
# how much of devsim's cost is that floor.
#
# Usage: benches/linger.sh [SECONDS [RATE [LINGER_MS...]]]   (defaults: 30 s, 10000; 5 20 100)
# Needs a release build and kcat (Debian's package, installed if missing).
set -euo pipefail
seconds="${1:-30}"
rate="${2:-10000}"
shift $(( $# > 2 ? 2 : $# ))
lingers=("$@")
[ "${#lingers[@]}" -gt 0 ] || lingers=(5 20 100)
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"
warmup=5
start_broker linger

simulation() { # LINGER_MS
  printf 'apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: linger\nspec:\n  devices: %s\n  interval: 1s\n  kafka:\n    topic: linger\n    partitions: 12\n    linger: %sms\n' "$rate" "$1"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# kcat's input: one second of the simulation's own readings, "key TAB value" per line.
simulation 5 > "$work/sample.yaml"
"$devsim" run -f "$work/sample.yaml" --brokers "$brokers" --duration 2s --report-every 0 >/dev/null
{ kcat -C -b "$brokers" -t linger -o beginning -e -q -f '%k\t%s\n' 2>/dev/null \
  | awk -F'\t' 'NF == 2' | head -n "$rate" > "$work/sample.txt"; } || true

# Feeds kcat the sample over and over, RATE / 1000 lines a millisecond, as long as kcat reads.
cat > "$work/pace.py" <<'PY'
import sys, time
lines = open(sys.argv[1], "rb").read().splitlines(keepends=True)
per_tick, tick, i, out = int(sys.argv[2]) // 1000, 0.001, 0, sys.stdout.buffer
next_at = time.monotonic()
try:
    while True:
        out.write(b"".join(lines[(i + k) % len(lines)] for k in range(per_tick)))
        out.flush()
        i += per_tick
        next_at += tick
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
except BrokenPipeError:
    pass
PY

measure() { # PID: CPU share of one core over the window, after the warm-up
  sleep "$warmup"
  local before after
  before="$(cpu_ticks "$1")"
  sleep "$seconds"
  after="$(cpu_ticks "$1")"
  awk -v a="$before" -v b="$after" -v s="$seconds" 'BEGIN { printf "%.2f %%", (b - a) / s }'
}

echo "| linger | producer | CPU (1 core = 100 %) | delivered in the run | schedule lag p99 |"
echo "|---|---|---|---|---|"
for linger in "${lingers[@]}"; do
  simulation "$linger" > "$work/run.yaml"
  "$devsim" run -f "$work/run.yaml" --brokers "$brokers" --report-every 0 > "$work/out" 2>&1 &
  pid=$!
  cpu="$(measure "$pid")"
  kill -INT "$pid"; wait "$pid" || true
  delivered="$(sed -n 's/^ *delivered *\([0-9]*\).*/\1/p' "$work/out" | head -n 1)"
  lag="$(sed -n 's/^ *schedule lag *.*p99 \([0-9.]* ms\).*/\1/p' "$work/out")"
  echo "| ${linger} ms | devsim run | $cpu | $delivered | $lag |"

  python3 "$work/pace.py" "$work/sample.txt" "$rate" | kcat -P -b "$brokers" -t linger -K$'\t' \
    -X acks=-1 -X linger.ms="$linger" -X partitioner=fnv1a > /dev/null 2>&1 &
  pid=$!
  kcat_pid="$(pgrep -n -x kcat)"
  cpu="$(measure "$kcat_pid")"
  kill "$kcat_pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  echo "| ${linger} ms | kcat -P, paced | $cpu | – | – |"
done
