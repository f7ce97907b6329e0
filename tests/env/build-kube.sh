#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kubectl, kube-scheduler and kubelet v1.20 from
# Debian bookworm's source package `kubernetes` (1.20.5+really1.20.2), for end-to-end tests
# against a real API server and a real node. kubectl is built from the same tree so the client
# stays inside the supported ±1 version skew.
#
# No cluster can be downloaded here, but Debian ships the full source with vendor/. The vendored
# reflect2 1.0.1 crashes under Go >= 1.18 on the first custom-resource write, so it and
# json-iterator are replaced with Debian's packaged (fixed) versions before building.
#
# Binaries are cached under ${DEVSIM_CACHE:-~/.cache/devsim}/kube-1.20/bin; a second run is a
# no-op. Needs root for apt-get. Prints the bin directory on success.
#
# It is usually run from inside `cargo test` (start-cluster.sh), whose environment carries
# variables such as OUT_DIR that Kubernetes' Makefile also reads: the build therefore runs in a
# clean environment (`env -i`), never in the caller's.
set -euo pipefail

cache="${DEVSIM_CACHE:-$HOME/.cache/devsim}"
out="$cache/kube-1.20/bin"
binaries=(kube-apiserver kube-controller-manager kubectl kube-scheduler kubelet)
missing() {
  local b
  for b in "${binaries[@]}"; do [ -x "$out/$b" ] || echo "$b"; done
}
built() { [ -z "$(missing)" ]; }
if built; then
  echo "$out"
  exit 0
fi

# Two test processes may start a cluster at once on a fresh machine: one builds, the other waits.
mkdir -p "$cache"
exec 9>"$cache/kube-1.20.lock"
flock 9
if built; then
  echo "$out"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
need=()
# start-cluster.sh needs openssl (service-account key) and python3 (free ports) as well.
# dpkg -s also succeeds for a removed package whose configuration files remain.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in golang-go rsync etcd-server dpkg-dev golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev openssl python3; do
  installed "$pkg" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# A private apt configuration whose sources also list deb-src, derived from the machine's own
# sources, so the system's apt state is left alone.
apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/sources.list.d"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$f" > "$apt_dir/sources.list.d/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ]; then
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$apt_dir/sources.list.d/src.list"
fi
apt_opts=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$apt_dir/sources.list.d" -o "Dir::State::Lists=$apt_dir/lists")
apt-get "${apt_opts[@]}" update -qq >&2

src="$cache/kube-1.20/src"
if [ ! -d "$src/kubernetes" ]; then
  rm -rf "$src" && mkdir -p "$src"
  (cd "$src" && apt-get "${apt_opts[@]}" source --download-only kubernetes >&2 \
     && dpkg-source -x --skip-patches kubernetes_*.dsc kubernetes >&2)
fi
tree="$src/kubernetes"

# Swap in Debian's reflect2 and json-iterator for the vendored ones.
for pair in "github.com/modern-go/reflect2" "github.com/json-iterator/go"; do
  rm -rf "$tree/vendor/$pair"
  mkdir -p "$tree/vendor/$pair"
  cp -a "/usr/share/gocode/src/$pair/." "$tree/vendor/$pair/"
  # Debian's copies may carry their own go.mod/test files; the vendor tree wants sources only.
  find "$tree/vendor/$pair" -name '*_test.go' -delete
done

cd "$tree"
# Go's build cache lives in the devsim cache too, so an empty DEVSIM_CACHE is a truly cold build.
clean_env=(env -i "PATH=$PATH" "HOME=$HOME" "GOCACHE=$cache/go-build" GOFLAGS=-mod=vendor GO111MODULE=on GOTOOLCHAIN=local)
# One make for all that is missing: the code generators run once and shared packages build once
# (a cache from an older version of this script may hold the first three already).
mapfile -t todo < <(missing)
"${clean_env[@]}" make WHAT="${todo[*]/#/cmd/}" >&2
mkdir -p "$out"
for b in "${todo[@]}"; do
  cp "_output/local/bin/linux/amd64/$b" "$out/" 2>/dev/null || cp "_output/bin/$b" "$out/"
done
# The binaries are all that is kept: the build cache and the build tree take gigabytes.
rm -rf "$cache/go-build" "$tree/_output"
echo "$out"
