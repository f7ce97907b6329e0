#!/usr/bin/env bash
# Builds devsim's image where no Docker daemon runs, with buildah (Debian's package, installed
# if missing; no daemon, root, vfs storage, chroot isolation): the Dockerfile's own `runtime`
# stage, its two inputs supplied as build contexts instead of stages, so that no base image has
# to be pulled:
#   build   the release binary, built on this machine as the Dockerfile's `build` stage builds it
#   rootfs  the runtime base from image/rootfs.sh, as the Dockerfile's `rootfs` stage makes it
# Writes OUT/devsim-VERSION.oci.tar (an OCI archive: `podman load`, `ctr images import`,
# `skopeo copy`) and prints its path. Image storage stays inside OUT.
#
# Usage: image/build.sh OUT
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:?usage: image/build.sh OUT}" && cd "$1" && pwd)"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n1)"
if ! command -v buildah >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah >&2 \
    || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah >&2; }
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

echo "== the binary (cargo build --release --locked --bin devsim)" >&2
# Run from a test, this script inherits what `cargo test` gives a test process (OUT_DIR,
# CARGO_PKG_*, CARGO_MANIFEST_DIR, its library path). Build scripts such as ring's watch some of
# those, so with them the same command rebuilds ring and all above it (rustls, kube, devsim):
# minutes, on every call. Without them it finds the binary `.ci/run` built before the tests.
scrub=(-u OUT_DIR)
for var in $(compgen -e); do
  case "$var" in
    CARGO_PKG_* | CARGO_MANIFEST_* | CARGO_BIN_EXE_* | CARGO_CRATE_NAME | CARGO_PRIMARY_PACKAGE | RUST_RECURSION_COUNT) scrub+=(-u "$var") ;;
  esac
done
[ -z "${CARGO_MANIFEST_DIR:-}" ] || scrub+=(-u LD_LIBRARY_PATH)
(cd "$repo" && env "${scrub[@]}" cargo build --release --locked --bin devsim >&2)
mkdir -p "$stage/build/src/target/release" "$stage/empty"
strip -o "$stage/build/src/target/release/devsim" "$repo/target/release/devsim"

echo "== the runtime base (image/rootfs.sh)" >&2
bash "$repo/image/rootfs.sh" "$stage/rootfs/rootfs" >&2

echo "== the runtime stage (buildah bud --target runtime)" >&2
storage=(--root "$out/storage" --runroot "$out/run" --storage-driver vfs)
buildah "${storage[@]}" bud --quiet --isolation chroot --target runtime \
  --build-context "build=$stage/build" --build-context "rootfs=$stage/rootfs" \
  --tag "localhost/devsim:$version" --file "$repo/Dockerfile" "$stage/empty" >&2
rm -f "$out/devsim-$version.oci.tar"
buildah "${storage[@]}" push --quiet "localhost/devsim:$version" \
  "oci-archive:$out/devsim-$version.oci.tar:devsim:$version" >&2
echo "$out/devsim-$version.oci.tar"
