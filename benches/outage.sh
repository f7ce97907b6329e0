#!/usr/bin/env bash
# A Kafka outage of OUTAGE seconds (default 300) under `devsim run` at 2,000 msg/s with the
# default bufferMemory (32Mi): the brokers of a `devsim broker` go down 60 s in and come back,
# the run goes on 120 s more, then `devsim verify` reads the topic. Prints resident memory
# before, during and after the outage, the run's summary and the verify report.
#
#   benches/outage.sh block|drop [DEVSIM_BINARY]
#
# Figures in the README were taken with this script (CPU load is light: the two runs of the
# README, block and drop, can go side by side).
set -euo pipefail
policy=${1:?usage: benches/outage.sh block|drop [binary]}
bin=$(realpath "${2:-target/release/devsim}")
outage=${OUTAGE:-300}
dir=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
cat > sim.yaml <<YAML
apiVersion: devsim.io/v1alpha1
kind: DeviceSimulation
metadata:
  name: outage-$policy
spec:
  devices: 2000
  interval: 1s
  overflow: $policy
  kafka:
    topic: outage
    partitions: 48
    compression: zstd
    acks: all
    idempotence: true
YAML
mkfifo orders
"$bin" broker --topic outage --partitions 48 --address-file addr < orders > broker.log 2>&1 &
exec 3>orders
while [ ! -s addr ]; do sleep 0.2; done
total=$((60 + outage + 120))
"$bin" run -f sim.yaml --brokers "$(cat addr)" --duration "${total}s" > run.log 2>&1 &
run=$!
start=$(date +%s)
down=0 up=0 before=0 peak_down=0 peak_after=0
while kill -0 "$run" 2>/dev/null; do
  t=$(( $(date +%s) - start ))
  rss=$(awk '/VmRSS/{print $2}' "/proc/$run/status" 2>/dev/null || echo 0)
  if [ "$down" = 0 ] && [ "$t" -ge 60 ]; then before=$rss; echo down >&3; down=1; fi
  if [ "$up" = 0 ] && [ "$t" -ge $((60 + outage)) ]; then echo up >&3; up=1; fi
  if [ "$down" = 1 ] && [ "$up" = 0 ] && [ "${rss:-0}" -gt "$peak_down" ]; then peak_down=$rss; fi
  if [ "$up" = 1 ] && [ "${rss:-0}" -gt "$peak_after" ]; then peak_after=$rss; fi
  sleep 2
done
wait "$run" || echo "devsim run exited $?"
echo "outage: ${outage} s, overflow: $policy"
echo "resident memory: before $((before / 1024)) MiB, peak during the outage $((peak_down / 1024)) MiB, peak after it $((peak_after / 1024)) MiB"
grep -m1 -E "KafkaUnreachable" run.log | cut -c1-160 || true
# Live lines start "[  362.0s]": the first after the brokers' return that is on schedule (no
# "behind"), and the first with no problem shown.
awk -v up=$((60 + outage)) '
  /^\[/ { t = substr($0, 2, index($0, "s]") - 2) + 0
           if (t <= up) next
           if (!s && $0 !~ /behind/) { printf "on schedule %.0f s after the brokers returned\n", t - up; s = 1 }
           if (!h && $0 !~ /  \[[A-Z][A-Za-z]+\] /) { printf "no problem shown %.0f s after the brokers returned\n", t - up; h = 1 } }' run.log
sed -n '/^summary:/,$p' run.log
"$bin" verify --brokers "$(cat addr)" -f sim.yaml --expect-devices 2000 --max-missing 100000000 || true
