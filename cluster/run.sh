#!/usr/bin/env bash
# `make run`: the main job. With KUBECONFIG set (a kind cluster, any cluster) it serves that cluster;
# otherwise it brings the local control plane up. Then it installs the CRDs and the sample profile and runs
# the operator in the foreground (Ctrl-C stops it; `make cluster-down` stops the local control plane).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin="$root/.venv/bin"
if [ -n "${KUBECONFIG:-}" ]; then
  echo "Using the cluster of KUBECONFIG=$KUBECONFIG"
else
  "$bin/eci-operator" cluster up
  export KUBECONFIG="$root/.cluster/kubeconfig"
fi
kubectl="$root/.cluster/bin/kubectl"
[ -x "$kubectl" ] || kubectl=$(command -v kubectl)
"$kubectl" apply -f crds/ >/dev/null
# kubectl wait fails at once while a new CRD has no conditions yet: try again for up to ~60 s.
tries=0
until "$kubectl" wait --for=condition=Established -f crds/ --timeout=60s >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "the CRDs in crds/ did not become Established" >&2; exit 1; }
  sleep 1
done
"$kubectl" apply -f manifests/examples/profile.yaml
metrics_port=${METRICS_PORT:-8081}
cat <<TXT

eci-operator is starting (logs below). In another terminal, try:

  export KUBECONFIG=$KUBECONFIG
  alias kubectl=$kubectl
  kubectl get nodes -L topology.kubernetes.io/zone          # one virtual node per zone of the profile
  kubectl apply -f manifests/examples/deployment.yaml       # a Deployment for virtual nodes
  kubectl get pods -o wide && kubectl get cg                # instance spec, zone and IP of each pod
  kubectl describe pod -l app=web | grep -A8 Events         # ECI's events
  .venv/bin/eci-operator resolve -f manifests/examples/pod.yaml -p manifests/examples/profile.yaml -o text
  curl -s localhost:$metrics_port/metrics | grep eci_operator   # the operator's own figures

TXT
exec "$bin/eci-operator" run --metrics-port "$metrics_port" --liveness "http://127.0.0.1:${LIVENESS_PORT:-8080}/healthz"
