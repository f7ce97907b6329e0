#!/usr/bin/env python3
"""Where a devsim process spends its CPU, by stage of a message's way, from `perf script`
output of a `perf record --call-graph dwarf` run (benches/profile.sh makes one).

Each sample is put in the stage of the frame nearest its leaf that names one; a sample no
frame names goes by its thread: librdkafka's broker threads are "librdkafka I/O", anything
else "runtime and kernel". Prints the stages with their share of the samples and, given
--messages N --seconds S --cpu C, the CPU nanoseconds a message each costs.
"""
import argparse
import collections
import re
import sys

# (stage, pattern over a frame's symbol), the first match from the leaf wins.
STAGES = [
    ("deliveries (reports served, messages freed)", r"pump::serve|SinkContext as rdkafka::producer::ProducerContext>::delivery|rd_kafka_event_message_next|BaseProducer<C,Part>>::poll|BaseProducer<C,Part>::poll"),
    ("produce (hand-over to librdkafka: copy, enqueue)", r"MessageSink>::try_send|rd_kafka_producev|BaseProducer<C,Part>>::send|BaseProducer<C,Part>::send"),
    ("encode", r"engine::encode"),
    ("generate", r"ReadingGenerator|engine::sensor|engine::trend|engine::rng|write_device_id"),
    ("schedule", r"DeviceWorker|engine::wheel|engine::schedule|runtime::task"),
    ("librdkafka I/O (batches, requests, sockets)", r"rd_kafka_broker_thread_main|rd_kafka_broker_serve"),
]
COMPILED = [(name, re.compile(p)) for name, p in STAGES]


def samples(lines):
    """Yields (thread name, [frame symbols, leaf first]) per sample of `perf script`."""
    thread, frames = None, []
    for line in lines:
        if not line.strip():
            if thread is not None:
                yield thread, frames
            thread, frames = None, []
        elif not line[0].isspace():
            thread, frames = line.split()[0], []
        else:
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
    if thread is not None:
        yield thread, frames


def stage_of(thread, frames):
    for frame in frames:
        for name, pattern in COMPILED:
            if pattern.search(frame):
                return name
    if thread.startswith("rdk:broker"):
        return STAGES[-1][0]
    return "runtime and kernel (wake-ups, timers, other)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=float, help="messages produced while recording")
    parser.add_argument("--cpu", type=float, help="CPU seconds of the process while recording")
    args = parser.parse_args()
    counts = collections.Counter(stage_of(t, f) for t, f in samples(sys.stdin))
    total = sum(counts.values()) or 1
    per_message = args.messages and args.cpu
    for name, n in counts.most_common():
        line = f"{100 * n / total:6.1f} %  {name}"
        if per_message:
            line += f"   {args.cpu * 1e9 * n / total / args.messages:7.0f} ns a message"
        print(line)
    print(f"{total} samples")


if __name__ == "__main__":
    main()
