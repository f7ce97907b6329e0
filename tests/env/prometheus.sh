#!/usr/bin/env bash
# Installs Prometheus and promtool from Debian's `prometheus` package into a cache folder,
# without installing the package (no service, no system user, nothing started): the .deb is
# downloaded and unpacked, and its two binaries are kept.
#
# Cached under ${DEVSIM_CACHE:-~/.cache/devsim}/prometheus-<version>/bin; a second run is a
# no-op. Needs apt's package lists (root for `apt-get update` on a machine without them).
# Prints the bin directory on success.
set -euo pipefail

cache="${DEVSIM_CACHE:-$HOME/.cache/devsim}"
installed() { [ -x "$1/prometheus" ] && [ -x "$1/promtool" ]; }

# Several test binaries may ask at once on a fresh machine: one installs, the others wait.
mkdir -p "$cache"
exec 9>"$cache/prometheus.lock"
flock 9

version="$(apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  version="$(apt-cache policy prometheus | sed -n 's/^ *Candidate: *//p')"
fi
bin="$cache/prometheus-${version//[^A-Za-z0-9.+-]/_}/bin"
if installed "$bin"; then
  echo "$bin"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "prometheus=$version" >&2 2>/dev/null) || {
  # Lists older than the mirror's: refresh them once.
  apt-get update -qq >&2
  (cd "$work" && apt-get download prometheus >&2)
}
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
mkdir -p "$bin"
install -m 0755 "$work/root/usr/bin/prometheus" "$work/root/usr/bin/promtool" "$bin/"
installed "$bin"
echo "$bin"
