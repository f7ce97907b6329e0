#!/usr/bin/env bash
# Memory, start-up and lag of large fleets: `devsim run` of DEVICES devices (one reading an
# hour each unless INTERVAL says otherwise, the default single-sensor profiles, 2 producer tasks) against `devsim broker` in
# its own process. Start-up is from the process's start to the first live line that counts a
# message sent; peak RSS and lag come from the run's summary.
#
#   bash benches/large_fleet.sh [SECONDS [DEVICES[:REPLICAS:SHARD] ...]]
#   bash benches/large_fleet.sh 10 1000000 10000000 100000000 1000000000:10:3
#   INTERVAL=30s bash benches/large_fleet.sh 40 1000000 10000000   # every device touched
set -euo pipefail
. "$(dirname "$0")/common.sh"
seconds="${1:-10}"
shift || true
fleets=("${@:-1000000 10000000 100000000}")
start_broker readings
printf '| devices | shard | start-up to the first message | peak RSS | bytes a device | lag p99 | delivered rate |\n|---|---|---|---|---|---|---|\n'
for fleet in ${fleets[@]}; do
  IFS=: read -r devices replicas shard <<<"$fleet"
  replicas="${replicas:-1}"
  shard_flag=()
  [ -n "${shard:-}" ] && shard_flag=(--shard "$shard")
  cat >"$work/sim.yaml" <<YAML
apiVersion: devsim.io/v1alpha1
kind: DeviceSimulation
metadata:
  name: large
spec:
  devices: $devices
  replicas: $replicas
  interval: ${INTERVAL:-1h}
  kafka:
    topic: readings
YAML
  python3 - "$devsim" "$work/sim.yaml" "$brokers" "$seconds" "$devices" "$replicas" "${shard:-all}" "${shard_flag[@]}" <<'PY'
import re, subprocess, sys, time
devsim, sim, brokers, seconds, devices, replicas, shard, *flags = sys.argv[1:]
began = time.monotonic()
run = subprocess.Popen([devsim, "run", "-f", sim, "--brokers", brokers, "--report-every", "0.1",
                        "--duration", f"{seconds}s", *flags],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
first = None
lines = []
for line in run.stdout:
    lines.append(line)
    m = re.search(r"\bsent\s+(\d+)\s+failed", line)
    if first is None and m and int(m.group(1)) > 0:
        first = time.monotonic() - began
run.wait()
text = "".join(lines)
def grab(pattern):
    m = re.search(pattern, text)
    return m.group(1) if m else "?"
rss = grab(r"peak resident mem\.\s+([\d.]+) MiB")
here = int(devices) / int(replicas)
per_device = f"{float(rss) * 2**20 / here:.1f}" if rss != "?" else "?"
lag = grab(r"schedule lag.*p99 ([\d.]+ ms)")
rate = grab(r"delivered rate\s+(\d+ msg/s)")
startup = "none" if first is None else f"{first:.2f} s"
print(f"| {int(devices):,} | {shard} of {replicas} | {startup} | {rss} MiB | {per_device} | "
      f"{lag} | {rate} |", flush=True)
if run.returncode != 0:
    sys.stderr.write(text[-2000:])
PY
done
stop_broker
