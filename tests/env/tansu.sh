#!/usr/bin/env bash
# Builds tansu 0.6.0 (Apache-2.0), a Kafka-protocol broker written independently of librdkafka,
# so that devsim's round trips are also judged by a broker that shares no code with its client.
# Features: `dynostore` (the in-memory storage, `memory://`) and `libsql` (SQLite storage: the
# one of its engines that keeps SCRAM users, which the SASL tests need).
#
# Unoptimised (opt-level 0, no debug info): the tests push thousands of messages, not millions,
# and it builds in about half the time of a release build on 2 cores. The build folder (1.5 GB)
# is removed afterwards.
#
# Cached under ${DEVSIM_CACHE:-~/.cache/devsim}/tansu-0.6.0-dynostore-libsql/bin; a second run is
# a no-op. Prints the path of the binary on success.
set -euo pipefail

version=0.6.0
features=dynostore,libsql
cache="${DEVSIM_CACHE:-$HOME/.cache/devsim}"
root="$cache/tansu-$version-${features//,/-}"
if [ -x "$root/bin/tansu" ]; then
  echo "$root/bin/tansu"
  exit 0
fi

# Several test binaries may ask at once on a fresh machine: one builds, the others wait.
mkdir -p "$cache"
exec 9>"$cache/tansu.lock"
flock 9
if [ -x "$root/bin/tansu" ]; then
  echo "$root/bin/tansu"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "building tansu $version ($features) once, about 10 minutes on 2 cores" >&2
CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
CARGO_PROFILE_RELEASE_DEBUG=false \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=64 \
CARGO_TARGET_DIR="$work/target" \
  cargo install tansu --version "$version" --locked --features "$features" \
  --root "$work/root" >&2
mkdir -p "$root/bin"
install -m 0755 "$work/root/bin/tansu" "$root/bin/tansu"
echo "$root/bin/tansu"
