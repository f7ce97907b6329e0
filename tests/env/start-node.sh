#!/usr/bin/env bash
# Starts a real single-node Kubernetes v1.20 for end-to-end tests whose pods must run as real
# containers: the control plane of start-cluster.sh, plus kube-scheduler, a kubelet and
# containerd 1.6 (Debian) with runc, a CNI bridge, and a pause image built from the Kubernetes
# source. Images come from archives (no registry): `start-node.sh DIR IMAGE.tar...` imports them.
#
# Usage: start-node.sh DIR [IMAGE.tar...]   prints DIR/cluster/kubeconfig once the node is Ready
#        stop-node.sh DIR                   stops and removes all of it
#
# Networking: no kube-proxy runs, so Service IPs do not route. Pods reach the host through the
# bridge's gateway address (printed to DIR/gateway): the API server binds it, and so can a test's
# Kafka. The bridge and that address exist only on this machine, for the test's lifetime.
# Only one node runs per machine (the bridge and kubelet's hard-coded paths are shared): a
# second start waits for the first node to stop.
#
# Needs root with CAP_SYS_ADMIN and CAP_NET_ADMIN, cgroup v1 or hybrid (kubelet 1.20), overlayfs.
# Outside DIR it writes only what kubelet 1.20 and containerd 1.6 hard-code (/var/log/pods,
# /var/log/containers, /var/lib/kubelet/device-plugins, /run/netns, /run/containerd/s) and the
# bridge; stop-node.sh removes what this node added there.
set -euo pipefail

env_dir="$(cd "$(dirname "$0")" && pwd)"
dir="$(mkdir -p "$1" && cd "$1" && pwd)"
shift
cache="${DEVSIM_CACHE:-$HOME/.cache/devsim}"
bridge=devsim0
subnet=10.244.0.0/24
gateway=10.244.0.1
node=localhost # the API server dials a node's hostname first: it must resolve to this machine

# One node per machine: the owner file names the running node's DIR. A second start waits for
# it to stop (up to 20 minutes); a node whose kubelet is gone (its test was killed) is cleaned up.
owner_file=/run/devsim-node.owner
exec 8>/run/devsim-node.lock
flock 8
for _ in $(seq 1 1200); do
  owner="$(cat "$owner_file" 2>/dev/null || true)"
  [ -n "$owner" ] && [ "$owner" != "$dir" ] || break
  kubelet_pid="$(awk '$1 == "kubelet" {print $2}' "$owner/node-pids" 2>/dev/null || true)"
  if [ -z "$kubelet_pid" ] || ! tr '\0' ' ' 2>/dev/null < "/proc/$kubelet_pid/cmdline" | grep -q kubelet; then
    bash "$env_dir/stop-node.sh" "$owner"
    break
  fi
  flock -u 8; sleep 1; flock 8
done
owner="$(cat "$owner_file" 2>/dev/null || true)"
if [ -n "$owner" ] && [ "$owner" != "$dir" ] && [ -f "$owner/node-pids" ]; then
  echo "another devsim node still runs from $owner (tests/env/stop-node.sh $owner stops it)" >&2
  exit 1
fi
echo "$dir" > "$owner_file"

packages=(containerd runc containernetworking-plugins gcc libc6-dev iproute2)
need=()
# dpkg -s also succeeds for a removed package whose configuration files remain.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in "${packages[@]}"; do installed "$p" || need+=("$p"); done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
bin="$(bash "$env_dir/build-kube.sh")"
tree="$cache/kube-1.20/src/kubernetes"

# A stale node from a run that was killed would hold the bridge and the paths below.
[ -f "$dir/node-pids" ] && bash "$env_dir/stop-node.sh" "$dir"
mkdir -p "$dir"/{containerd,cni-conf,cni-ipam,kubelet,kubelet-certs,manifests,volume-plugins,images,logs}
: > "$dir/node-pids"

# What already exists in the paths kubelet and containerd hard-code, so that stop-node.sh
# removes only what this node adds.
for path in /var/log/pods /var/log/containers /var/lib/kubelet /run/netns /run/containerd; do
  if [ -d "$path" ]; then ls -A "$path" | sed "s|^|$path/|"; else echo "$path"; fi
done > "$dir/preexisting"
# containerd puts the containers' cgroups under k8s.io/ in every hierarchy.
[ -d /sys/fs/cgroup/memory/k8s.io ] && echo "cgroup k8s.io" >> "$dir/preexisting"

# The bridge exists before the API server so that it can bind the gateway address; the CNI
# bridge plugin adopts it.
ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
ip addr replace "$gateway/24" dev "$bridge"
ip link set "$bridge" up
echo "$gateway" > "$dir/gateway"

c="$dir/containerd"
cat > "$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:3.4"
  # runc cannot lower oom_score_adj without CAP_SYS_RESOURCE, which these machines withhold.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$c/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni-conf"
EOF
cat > "$dir/cni-conf/10-devsim.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "devsim", "plugins": [
  {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$dir/cni-ipam", "ranges": [[{"subnet": "$subnet", "gateway": "$gateway"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
containerd --config "$c/config.toml" > "$dir/logs/containerd.log" 2>&1 &
echo "containerd $!" >> "$dir/node-pids"
for _ in $(seq 1 100); do [ -S "$c/containerd.sock" ] && break; sleep 0.1; done
ctr_k8s=(ctr -a "$c/containerd.sock" -n k8s.io)

# The pause image, built as Kubernetes builds it (build/pause/linux/pause.c, static), FROM scratch.
images="$dir/images"
gcc -Os -static -DVERSION=3.4-devsim -o "$images/pause" "$tree/build/pause/linux/pause.c"
printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$images/Containerfile"
buildah_in=(buildah --root "$images/storage" --runroot "$images/run" --storage-driver vfs)
"${buildah_in[@]}" bud --isolation chroot -q -t localhost/pause:3.4 -f "$images/Containerfile" "$images" >/dev/null
"${buildah_in[@]}" push -q localhost/pause:3.4 "oci-archive:$images/pause.tar:localhost/pause:3.4"
"${buildah_in[@]}" rm -a >/dev/null 2>&1 || true
for archive in "$images/pause.tar" "$@"; do
  # An image named without a registry (devsim:0.1.0) is one a pod names as docker.io/library/…
  # (the CRI normalizes references as Docker does): tag it so, as `docker load` would.
  "${ctr_k8s[@]}" images import "$archive" | sed -n 's/^unpacking \([^ ]*\) .*/\1/p' | while read -r name; do
    case "$name" in
      */*) case "${name%%/*}" in
             *.*|*:*|localhost) ;; # names its registry already
             *) "${ctr_k8s[@]}" images tag "$name" "docker.io/$name" >/dev/null ;;
           esac ;;
      *) "${ctr_k8s[@]}" images tag "$name" "docker.io/library/$name" >/dev/null ;;
    esac
  done
done

DEVSIM_API_ADDRESS="$gateway" bash "$env_dir/start-cluster.sh" "$dir/cluster" >/dev/null
kc=("$bin/kubectl" --kubeconfig "$dir/cluster/kubeconfig")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
scheduler_port=$(free_port); kubelet_port=$(free_port)
"$bin/kube-scheduler" --kubeconfig "$dir/cluster/scheduler.kubeconfig" \
  --authentication-kubeconfig "$dir/cluster/scheduler.kubeconfig" \
  --authorization-kubeconfig "$dir/cluster/scheduler.kubeconfig" \
  --leader-elect=false --bind-address 127.0.0.1 --secure-port "$scheduler_port" --port 0 \
  > "$dir/logs/kube-scheduler.log" 2>&1 &
echo "kube-scheduler $!" >> "$dir/node-pids"

# The kubelet, configured by flags: anonymous, always-allow on its own port (bound to loopback)
# so that the API server, which holds no client certificate here, can proxy logs; no QoS
# cgroups and no allocatable enforcement (a shared machine, not a dedicated node); no image GC
# (images cannot be pulled back); no iptables chains on the host.
"$bin/kubelet" --kubeconfig "$dir/cluster/node.kubeconfig" --root-dir "$dir/kubelet" \
  --cert-dir "$dir/kubelet-certs" \
  --container-runtime=remote --container-runtime-endpoint="unix://$c/containerd.sock" \
  --pod-infra-container-image=localhost/pause:3.4 \
  --hostname-override="$node" --address=127.0.0.1 --port="$kubelet_port" --read-only-port=0 \
  --healthz-port=0 --fail-swap-on=false --cgroups-per-qos=false --enforce-node-allocatable= \
  --cgroup-driver=cgroupfs --pod-manifest-path="$dir/manifests" \
  --volume-plugin-dir="$dir/volume-plugins" --image-gc-high-threshold=100 --eviction-hard= \
  --make-iptables-util-chains=false --anonymous-auth=true --authorization-mode=AlwaysAllow \
  > "$dir/logs/kubelet.log" 2>&1 &
echo "kubelet $!" >> "$dir/node-pids"

ready() {
  [ "$("${kc[@]}" get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
for _ in $(seq 1 240); do ready && break; sleep 0.25; done
ready || { echo "the node did not become Ready in 60 s (see $dir/logs/kubelet.log)" >&2; exit 1; }
# The TaintNodesByCondition admission plugin sets this taint; only the node-lifecycle
# controller, which is not started here, would remove it.
"${kc[@]}" taint node "$node" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
echo "$dir/cluster/kubeconfig"
