#!/usr/bin/env bash
# A soak: `devsim run` at RATE msg/s (default 50,000: 50,000 devices, 1 s apart) for SOAK
# seconds (default 1800) against a `devsim broker` in its own process, acks=all and
# idempotence on. Every EVERY seconds (default 30) it samples the run's resident memory, open
# file descriptors and threads (from /proc), the broker's resident memory and the run's live
# line; at the end it prints the drift of each against the sample at WARMUP seconds (default
# 120: buffers, pools and the allocator settle first), then the run's summary. A measurement for people, not a CI test (it takes both cores for half an hour).
#
#   benches/soak.sh [DEVSIM_BINARY]
set -euo pipefail
bin=$(realpath "${1:-target/release/devsim}")
soak=${SOAK:-1800}
rate=${RATE:-50000}
warmup=${WARMUP:-120}
every=${EVERY:-30}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
cat > sim.yaml <<YAML
apiVersion: devsim.io/v1alpha1
kind: DeviceSimulation
metadata:
  name: soak
spec:
  devices: $rate
  interval: 1s
  workersPerReplica: 4
  kafka:
    topic: soak
    partitions: 24
    compression: lz4
    acks: all
    idempotence: true
YAML
"$bin" broker --topic soak --partitions 24 --address-file addr > broker.log 2>&1 &
broker=$!
while [ ! -s addr ]; do sleep 0.2; done
"$bin" run -f sim.yaml --brokers "$(cat addr)" --duration "${soak}s" --report-every 10 \
  > run.log 2>&1 &
run=$!
start=$(date +%s)
printf '%6s %10s %5s %7s %12s  %s\n' t_s rss_kib fds threads broker_rss live
: > samples
next=0
while kill -0 "$run" 2>/dev/null; do
  t=$(($(date +%s) - start))
  if [ "$t" -ge "$next" ]; then
    rss=$(awk '/VmRSS/{print $2}' "/proc/$run/status" 2>/dev/null || echo 0)
    threads=$(awk '/Threads/{print $2}' "/proc/$run/status" 2>/dev/null || echo 0)
    fds=$(find "/proc/$run/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    brss=$(awk '/VmRSS/{print $2}' "/proc/$broker/status" 2>/dev/null || echo 0)
    live=$( (grep '^\[' run.log || true) | tail -1 | cut -c1-110)
    printf '%6d %10d %5d %7d %12d  %s\n' "$t" "$rss" "$fds" "$threads" "$brss" "$live"
    echo "$t $rss $fds $threads" >> samples
    next=$((next + every))
  fi
  sleep 1
done
wait "$run" || echo "devsim run exited $?"
awk -v warmup="$warmup" '
  $1 >= warmup && !base { base = 1; r0 = $2; f0 = $3; h0 = $4 }
  base { if ($2 > rmax) rmax = $2; if ($3 > fmax) fmax = $3; if ($4 > hmax) hmax = $4
         r1 = $2; f1 = $3; h1 = $4 }
  END {
    if (!base) { print "no sample after the warm-up"; exit 1 }
    printf "from %d s on: resident %d -> %d KiB (%+.2f %%, peak %+.2f %%); fds %d -> %d (peak %d); threads %d -> %d (peak %d)\n",
      warmup, r0, r1, 100 * (r1 - r0) / r0, 100 * (rmax - r0) / r0, f0, f1, fmax, h0, h1, hmax
  }' samples
grep -v '^\[' run.log | tail -15
