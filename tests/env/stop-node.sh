#!/usr/bin/env bash
# Stops what start-node.sh DIR started and removes what it left outside DIR: the pods' containers,
# their mounts and network namespaces, the bridge, and the entries kubelet and containerd added to
# the paths they hard-code. Safe to run twice, and on a node that only half started.
set -u
env_dir="$(cd "$(dirname "$0")" && pwd)"
dir="$(cd "$1" 2>/dev/null && pwd)" || exit 0
[ -f "$dir/node-pids" ] || exit 0
ctr_k8s=(ctr -a "$dir/containerd/containerd.sock" -n k8s.io)

# Stops a PID only while it still runs the program we started (PIDs are reused).
stop() { # PID NAME
  alive() { tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" | grep -q "$2"; }
  alive "$1" "$2" || return 0
  kill "$1" 2>/dev/null
  for _ in $(seq 1 40); do alive "$1" "$2" || return 0; sleep 0.25; done
  kill -9 "$1" 2>/dev/null
}

# The kubelet and the scheduler first, so nothing restarts what is stopped next; then the
# control plane; then every container, through containerd, which must still run for that.
while read -r what pid; do
  [ "$what" = containerd ] || stop "$pid" "$what"
done < "$dir/node-pids"
bash "$env_dir/stop-cluster.sh" "$dir/cluster"
for task in $("${ctr_k8s[@]}" tasks ls -q 2>/dev/null); do
  "${ctr_k8s[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1
done
for _ in $(seq 1 40); do
  [ -z "$("${ctr_k8s[@]}" tasks ls -q 2>/dev/null | head -1)" ] && break
  "${ctr_k8s[@]}" tasks ls -q 2>/dev/null | xargs -r -n1 "${ctr_k8s[@]}" tasks rm -f >/dev/null 2>&1
  sleep 0.25
done
"${ctr_k8s[@]}" containers ls -q 2>/dev/null | xargs -r "${ctr_k8s[@]}" containers rm >/dev/null 2>&1
# Pod network namespaces: CNI teardown, which the kubelet would have asked for, then the mounts.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
  grep -qx "/run/netns/$ns" "$dir/preexisting" 2>/dev/null && continue
  ip netns delete "$ns" 2>/dev/null
done
while read -r what pid; do
  [ "$what" != containerd ] || stop "$pid" "$what"
done < "$dir/node-pids"
findmnt -rn -o TARGET | grep -F "$dir/" | sort -r | while read -r m; do
  umount "$m" 2>/dev/null || umount -l "$m"
done
ip link del devsim0 2>/dev/null

# What kubelet and containerd wrote where they hard-code paths, less what was there before.
if [ -f "$dir/preexisting" ]; then
  for path in /var/log/pods /var/log/containers /var/lib/kubelet /run/netns /run/containerd; do
    if grep -qx "$path" "$dir/preexisting"; then
      rm -rf "$path"
    elif [ -d "$path" ]; then
      ls -A "$path" | sed "s|^|$path/|" | grep -vxF -f "$dir/preexisting" | xargs -r rm -rf
    fi
  done
fi
if [ -f "$dir/preexisting" ] && ! grep -qx "cgroup k8s.io" "$dir/preexisting"; then
  rmdir /sys/fs/cgroup/*/k8s.io/* /sys/fs/cgroup/*/k8s.io 2>/dev/null
fi
rm -f "$dir/node-pids"
[ "$(cat /run/devsim-node.owner 2>/dev/null)" = "$dir" ] && rm -f /run/devsim-node.owner
exit 0
