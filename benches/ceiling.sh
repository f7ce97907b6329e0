#!/usr/bin/env bash
# The honest ceiling: devsim's full pipeline against the raw producer (librdkafka handed
# pre-built messages: `devsim bench`'s raw mode), against kcat -P from a file, and against
# benches/c_producer.c (the same file through devsim's own librdkafka, from C), run A B C D A B
# C D ... in one go, each against a `devsim broker` in a process of its own, for several
# producer settings and both encodings. Prints a markdown table of medians and spreads.
#
# Usage: benches/ceiling.sh [ROUNDS [SECONDS]]   (defaults 3 and 10)
# Needs a release build (cargo build --release), kcat (Debian's package, installed if missing)
# and a C compiler with OpenSSL's headers (as the build itself). kcat and the C producer run for
# JSON only: they read messages one per line, and protobuf values hold arbitrary bytes. Scratch files go to a temporary folder, removed at the end.
set -euo pipefail
rounds="${1:-3}"
seconds="${2:-10}"
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"

# simulation ENCODING COMPRESSION ACKS IDEMPOTENCE: examples/throughput.yaml's fleet with them.
simulation() {
  cat <<YAML
apiVersion: devsim.io/v1alpha1
kind: DeviceSimulation
metadata:
  name: ceiling
spec:
  devices: 100000
  interval: 10ms
  anomalyRate: 0.01
  encoding: $1
  overflow: block
  kafka:
    topic: ceiling
    partitions: 12
    compression: $2
    acks: "$3"
    idempotence: $4
    linger: 5ms
YAML
}

# kcat's input: real JSON readings of the simulation, key TAB value per line, repeated to 1 M
# messages a second of a phase (kcat sends them all: its phases run about as long as the
# others), read from the page cache.
make_kcat_input() {
  simulation json none 1 false > "$work/sample.yaml"
  start_broker ceiling
  "$devsim" run -f "$work/sample.yaml" --brokers "$brokers" --duration 1s --report-every 0 >/dev/null
  # (head ends the pipe early, which its writers see as a broken pipe: not a failure here)
  { kcat -C -b "$brokers" -t ceiling -o beginning -e -q -f '%k\t%s\n' 2>/dev/null \
    | awk -F'\t' 'NF == 2' | head -n 200000 > "$work/sample.txt"; } || true
  stop_broker
  local copies=$(( (1000000 * seconds + 199999) / 200000 ))
  for _ in $(seq "$copies"); do cat "$work/sample.txt"; done > "$work/kcat-input.txt"
  kcat_messages="$(wc -l < "$work/kcat-input.txt")"
}

# The producer settings kcat and the C producer share, as property=value words.
shared_settings() { # CODEC ACKS IDEMPOTENCE
  echo "compression.codec=$1 acks=$([ "$2" = all ] && echo -1 || echo "$2")" \
    "enable.idempotence=$3 linger.ms=5 partitioner=fnv1a" \
    "queue.buffering.max.kbytes=32768 queue.buffering.max.messages=131072"
}

# Runs a producer that sends the whole input file: prints "msg/s cpu-µs-per-message".
timed_phase() {
  /usr/bin/env time -f "%e %U %S" -o "$work/phase.time" "$@" > /dev/null 2>&1
  read -r wall user system < "$work/phase.time"
  awk -v n="$kcat_messages" -v w="$wall" -v u="$user" -v s="$system" \
    'BEGIN { printf "%.0f %.2f\n", n / w, (u + s) * 1e6 / n }'
}

kcat_phase() { # CODEC ACKS IDEMPOTENCE
  local settings=()
  for setting in $(shared_settings "$@"); do settings+=(-X "$setting"); done
  timed_phase kcat -P -b "$brokers" -t ceiling -K$'\t' "${settings[@]}" -l "$work/kcat-input.txt"
}

# The C reference (benches/c_producer.c), built against the librdkafka of devsim's release
# build: skipped, with a note, when that build's static library is not found.
build_c_producer() {
  local out lib zstd
  out="$(ls -d "$repo"/target/release/build/rdkafka-sys-*/out 2>/dev/null | head -n 1)"
  lib="$out/src/librdkafka-static.a"
  zstd="$(find "$repo"/target/release/build -name libzstd.a 2>/dev/null | head -n 1)"
  if [ -z "$out" ] || [ ! -f "$lib" ] || [ -z "$zstd" ]; then
    echo "(no librdkafka-static.a under target/release/build: the C row is skipped)" >&2
    return
  fi
  mkdir -p "$work/include/librdkafka"
  cp "$out/src/rdkafka.h" "$work/include/librdkafka/"
  cc -O2 -o "$work/c_producer" "$repo/benches/c_producer.c" -I"$work/include" "$lib" "$zstd" \
    -lssl -lcrypto -lz -lpthread -lm -ldl
}

c_phase() { # CODEC ACKS IDEMPOTENCE
  # shellcheck disable=SC2046 # one word a setting
  timed_phase "$work/c_producer" "$brokers" ceiling "$work/kcat-input.txt" $(shared_settings "$@")
}

median_spread() { # values on stdin -> "median (min-max)"
  sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.0f (%.0f-%.0f)", m, v[1], v[NR] }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

make_kcat_input
build_c_producer
echo "| encoding | compression / acks | producer | msg/s median (min-max) | CPU µs a message | pipeline / this |"
echo "|---|---|---|---|---|---|"
for setting in "none 1 false" "lz4 1 false" "zstd all true"; do
  read -r codec acks idempotence <<< "$setting"
  for encoding in json protobuf; do
    simulation "$encoding" "$codec" "$acks" "$idempotence" > "$work/sim.yaml"
    start_broker ceiling
    : > "$work/raw"; : > "$work/pipeline"; : > "$work/kcat"; : > "$work/c-librdkafka"
    for _ in $(seq "$rounds"); do
      [ "$encoding" = json ] && kcat_phase "$codec" "$acks" "$idempotence" >> "$work/kcat"
      [ "$encoding" = json ] && [ -x "$work/c_producer" ] \
        && c_phase "$codec" "$acks" "$idempotence" >> "$work/c-librdkafka"
      "$devsim" bench -f "$work/sim.yaml" --brokers "$brokers" --duration "${seconds}s" --rounds 1 \
        | awk '$2 == "raw" || $2 == "pipeline" { print $3, $6 >> ("'"$work"'/" $2) }'
    done
    stop_broker
    pipeline_rate="$(cut -d' ' -f1 "$work/pipeline" | median)"
    for producer in kcat c-librdkafka raw pipeline; do
      [ -s "$work/$producer" ] || continue
      rate="$(cut -d' ' -f1 "$work/$producer" | median_spread)"
      cpu="$(cut -d' ' -f2 "$work/$producer" | median)"
      ratio="$(cut -d' ' -f1 "$work/$producer" | median | awk -v p="$pipeline_rate" '{ printf "%.2f", p / $1 }')"
      echo "| $encoding | $codec / acks=$acks$([ "$idempotence" = true ] && echo ' + idempotence') | $producer | $rate | $cpu | $ratio |"
    done
  done
done
