#!/usr/bin/env bash
# Stops what start-cluster.sh DIR started.
set -u
dir="$1"
[ -f "$dir/pids" ] || exit 0
while read -r pid; do kill "$pid" 2>/dev/null; done < "$dir/pids"
sleep 1
while read -r pid; do kill -9 "$pid" 2>/dev/null; done < "$dir/pids"
rm -f "$dir/pids"
