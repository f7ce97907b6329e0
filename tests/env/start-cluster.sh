#!/usr/bin/env bash
# Starts a real Kubernetes control plane for end-to-end tests: etcd, kube-apiserver and
# kube-controller-manager (v1.20, built by build-kube.sh), all on 127.0.0.1 with ports chosen at
# run time, token authentication and RBAC. There is no scheduler and no kubelet: pods stay
# Pending, and the test harness plays the kubelet.
#
# Usage: start-cluster.sh DIR    Writes DIR/kubeconfig, DIR/pids and DIR/kubectl (a link to the
#                                kubectl 1.20 built beside the server), prints the kubeconfig path
#                                once the API server answers. stop-cluster.sh DIR stops it all.
set -euo pipefail

dir="$(mkdir -p "$1" && cd "$1" && pwd)"
bin="$(bash "$(dirname "$0")/build-kube.sh")"
ln -sf "$bin/kubectl" "$dir/kubectl"
command -v etcd >/dev/null || { echo "etcd not found (apt-get install etcd-server)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port); cm_port=$(free_port)

mkdir -p "$dir/etcd" "$dir/certs" "$dir/logs"
: > "$dir/pids"
token="devsim-e2e-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
echo "$token,admin,admin,system:masters" > "$dir/tokens.csv"
openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null

etcd --name e2e --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "e2e=http://127.0.0.1:$peer_port" --log-level warn \
  > "$dir/logs/etcd.log" 2>&1 &
echo $! >> "$dir/pids"

"$bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --advertise-address 127.0.0.1 --bind-address 127.0.0.1 --secure-port "$api_port" --insecure-port 0 \
  --cert-dir "$dir/certs" \
  --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
  --service-account-key-file "$dir/sa.key" --service-account-signing-key-file "$dir/sa.key" \
  --service-account-issuer https://kubernetes.default.svc \
  --service-cluster-ip-range 10.96.0.0/16 \
  --disable-admission-plugins ServiceAccount \
  > "$dir/logs/kube-apiserver.log" 2>&1 &
echo $! >> "$dir/pids"

cat > "$dir/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$api_port
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $token
contexts:
- name: e2e
  context: {cluster: e2e, user: admin, namespace: default}
current-context: e2e
KUBECONFIG

for _ in $(seq 1 120); do
  if "$bin/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1; then break; fi
  sleep 0.5
done
"$bin/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null

"$bin/kube-controller-manager" \
  --kubeconfig "$dir/kubeconfig" --leader-elect=false \
  --bind-address 127.0.0.1 --secure-port "$cm_port" --port 0 \
  --controllers statefulset,garbagecollector,namespace \
  > "$dir/logs/kube-controller-manager.log" 2>&1 &
echo $! >> "$dir/pids"

echo "$dir/kubeconfig"
