#!/usr/bin/env bash
# Starts a real Kubernetes control plane for end-to-end tests: etcd, kube-apiserver and
# kube-controller-manager (v1.20, built by build-kube.sh), with ports chosen at run time, its own
# CA, token authentication, Node + RBAC authorization and ServiceAccount tokens. There is no
# scheduler and no kubelet: pods stay Pending, and the test harness plays the kubelet, unless
# start-node.sh adds a real node on top.
#
# Usage: start-cluster.sh DIR    Writes DIR/kubeconfig (admin), DIR/node.kubeconfig and
#                                DIR/scheduler.kubeconfig (those components' own identities),
#                                DIR/ca.crt, DIR/pids and DIR/kubectl (a link to the kubectl 1.20
#                                built beside the server), prints the kubeconfig path once the
#                                API server answers. stop-cluster.sh DIR stops it all.
# DEVSIM_API_ADDRESS  the local address the API server binds (default 127.0.0.1; start-node.sh
#                     passes its bridge's address, which pods can reach).
set -euo pipefail

dir="$(mkdir -p "$1" && cd "$1" && pwd)"
bin="$(bash "$(dirname "$0")/build-kube.sh")"
ln -sf "$bin/kubectl" "$dir/kubectl"
command -v etcd >/dev/null || { echo "etcd not found (apt-get install etcd-server)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port); cm_port=$(free_port)

address="${DEVSIM_API_ADDRESS:-127.0.0.1}"
mkdir -p "$dir/etcd" "$dir/certs" "$dir/logs"
: > "$dir/pids"
new_token() { echo "devsim-e2e-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"; }
token=$(new_token); node_token=$(new_token); scheduler_token=$(new_token)
# The kubelet and the scheduler get their own identities, as in a real cluster: the Node
# authorizer limits the kubelet to its own node's pods and their secrets.
cat > "$dir/tokens.csv" <<TOKENS
$token,admin,admin,system:masters
$node_token,system:node:localhost,node-localhost,system:nodes
$scheduler_token,system:kube-scheduler,kube-scheduler
TOKENS
openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null

# A CA of this cluster and the API server's certificate for every name a client uses: the
# address, loopback, the kubernetes Service's IP and names. Pods verify it with the CA that the
# token controller puts beside each ServiceAccount token.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=devsim-e2e-ca" \
  -keyout "$dir/certs/ca.key" -out "$dir/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
  -keyout "$dir/certs/apiserver.key" -out "$dir/certs/apiserver.csr" 2>/dev/null
printf 'subjectAltName=IP:%s,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n' \
  "$address" > "$dir/certs/apiserver.ext"
openssl x509 -req -in "$dir/certs/apiserver.csr" -CA "$dir/ca.crt" -CAkey "$dir/certs/ca.key" \
  -CAcreateserial -days 2 -extfile "$dir/certs/apiserver.ext" -out "$dir/certs/apiserver.crt" 2>/dev/null

etcd --name e2e --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "e2e=http://127.0.0.1:$peer_port" --log-level warn \
  > "$dir/logs/etcd.log" 2>&1 &
echo $! >> "$dir/pids"

"$bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --advertise-address "$address" --bind-address "$address" --secure-port "$api_port" --insecure-port 0 \
  --tls-cert-file "$dir/certs/apiserver.crt" --tls-private-key-file "$dir/certs/apiserver.key" \
  --token-auth-file "$dir/tokens.csv" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction \
  --service-account-key-file "$dir/sa.key" --service-account-signing-key-file "$dir/sa.key" \
  --service-account-issuer https://kubernetes.default.svc \
  --service-cluster-ip-range 10.96.0.0/16 \
  > "$dir/logs/kube-apiserver.log" 2>&1 &
echo $! >> "$dir/pids"

ca_data=$(base64 -w0 "$dir/ca.crt")
kubeconfig() { # FILE USER TOKEN
  cat > "$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://$address:$api_port
    certificate-authority-data: $ca_data
users:
- name: $2
  user:
    token: $3
contexts:
- name: e2e
  context: {cluster: e2e, user: $2, namespace: default}
current-context: e2e
KUBECONFIG
}
kubeconfig "$dir/kubeconfig" admin "$token"
kubeconfig "$dir/node.kubeconfig" system:node:localhost "$node_token"
kubeconfig "$dir/scheduler.kubeconfig" system:kube-scheduler "$scheduler_token"

for _ in $(seq 1 120); do
  if "$bin/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1; then break; fi
  sleep 0.5
done
"$bin/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null

"$bin/kube-controller-manager" \
  --kubeconfig "$dir/kubeconfig" --leader-elect=false \
  --bind-address 127.0.0.1 --secure-port "$cm_port" --port 0 \
  --controllers statefulset,deployment,replicaset,garbagecollector,namespace,serviceaccount,serviceaccount-token \
  --service-account-private-key-file "$dir/sa.key" --root-ca-file "$dir/ca.crt" \
  > "$dir/logs/kube-controller-manager.log" 2>&1 &
echo $! >> "$dir/pids"

echo "$dir/kubeconfig"
