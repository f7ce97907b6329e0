#!/usr/bin/env bash
# Efficiency below saturation: CPU (share of one core) and schedule lag of `devsim run` at
# 10,000 and 100,000 msg/s and with nothing due (one device every hour: the producer connected,
# its tasks, pump and report loop alive, no message, as a paused or drained worker idles),
# each measured over SECONDS after a warm-up, against a `devsim broker` in a process of its own.
# Binaries are run in turn, A B A B ..., so they can be compared side by side.
#
# Usage: benches/efficiency.sh [SECONDS [ROUNDS [DEVSIM...]]]
#   defaults: 60 s, 1 round, target/release/devsim
set -euo pipefail
seconds="${1:-60}"
rounds="${2:-1}"
shift $(( $# > 2 ? 2 : $# ))
repo="$(cd "$(dirname "$0")/.." && pwd)"
binaries=("$@")
[ "${#binaries[@]}" -gt 0 ] || binaries=("$repo/target/release/devsim")
work="$(mktemp -d)"
broker_pid=""
trap '[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null; rm -rf "$work"' EXIT
warmup=5

"${binaries[0]}" broker --topic efficiency --partitions 12 --address-file "$work/address" >/dev/null 2>&1 &
broker_pid=$!
while [ ! -s "$work/address" ]; do sleep 0.1; done
brokers="$(cat "$work/address")"

simulation() { # NAME DEVICES INTERVAL
  printf 'apiVersion: devsim.io/v1alpha1\nkind: DeviceSimulation\nmetadata:\n  name: %s\nspec:\n  devices: %s\n  interval: %s\n  kafka:\n    topic: efficiency\n    partitions: 12\n' "$1" "$2" "$3"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "| load | devsim | CPU (1 core = 100 %) | sent in window | schedule lag p50 / p99 / max | RSS |"
echo "|---|---|---|---|---|---|"
for load in "10k 10000 1s" "100k 100000 1s" "idle 1 1h"; do
  read -r name devices interval <<< "$load"
  simulation "$name" "$devices" "$interval" > "$work/$name.yaml"
  for _ in $(seq "$rounds"); do
    for devsim in "${binaries[@]}"; do
      "$devsim" run -f "$work/$name.yaml" --brokers "$brokers" --report-every 1 > "$work/out" 2>&1 &
      pid=$!
      sleep "$warmup"
      before="$(cpu_ticks "$pid")"; sent_before="$(grep -c . "$work/out")"
      sleep "$seconds"
      after="$(cpu_ticks "$pid")"
      rss="$(awk '/VmRSS/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$pid/status")"
      kill -INT "$pid"; wait "$pid" || true
      # Messages sent in the window: the live lines' running totals at its two ends.
      sent="$(awk -v a="$warmup" -v b="$((warmup + seconds))" '
        /^\[/ { t = $2 + 0; for (i = 1; i <= NF; i++) if ($i == "sent" && $(i + 1) ~ /^[0-9]+$/) s = $(i + 1)
                if (t <= a) first = s; if (t <= b) last = s }
        END { print last - first }' "$work/out")"
      lag="$(sed -n 's/^ *schedule lag *//p' "$work/out")"
      cpu="$(awk -v a="$before" -v b="$after" -v s="$seconds" 'BEGIN { printf "%.2f %%", (b - a) / s }')"
      echo "| $name ($devices devices every $interval) | $(basename "$devsim") | $cpu | $sent | $lag | $rss |"
    done
  done
done
