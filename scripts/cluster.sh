#!/usr/bin/env bash
# The test cluster (Kubernetes with kwok's simulated nodes, see test/cluster/controlPlane.ts) for use by
# hand, started in the background on loopback:
#
#   eval "$(bash scripts/cluster.sh up)"     # prints export KUBECONFIG=… and PATH with its kubectl
#   kubectl get nodes
#   bash scripts/cluster.sh down
#
# The binaries come from scripts/toolchain.sh (built on first use). The state lives in
# CRDSTACK_CLUSTER_DIR (default .tmp/cluster in the checkout); the cluster's data goes when it stops.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${CRDSTACK_CLUSTER_DIR:-$root/.tmp/cluster}
mkdir -p "$state"

running() { [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

case "${1:-}" in
  up)
    if ! running; then
      rm -f "$state/ready"
      cd "$root"
      nohup node --import tsx scripts/cluster.ts "$state/ready" </dev/null >"$state/log" 2>&1 &
      echo $! >"$state/pid"
      while [ ! -s "$state/ready" ]; do
        running || { cat "$state/log" >&2; echo "cluster: did not start (log above)" >&2; exit 1; }
        sleep 0.5
      done
    fi
    { read -r kubeconfig; read -r binaries; } <"$state/ready"
    printf 'export KUBECONFIG=%q\n' "$kubeconfig"
    printf 'export PATH=%q:"$PATH"\n' "$binaries"
    ;;
  down)
    if running; then
      pid=$(cat "$state/pid")
      kill "$pid"
      # It stops every process of the cluster first; after 30 s it is killed.
      for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/pid" "$state/ready"
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
