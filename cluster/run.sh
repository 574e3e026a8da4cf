#!/usr/bin/env bash
# `make run`: the main job. With KUBECONFIG set (a kind cluster, any cluster) it serves that cluster;
# otherwise it brings the local control plane up. Then it installs the CRDs and ASK's configuration (a VSwitch
# and the kube-system/eci-profile ConfigMap; RUN_PROFILE=eciprofile: the sample ECIProfile) and runs
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
  # ECI_CLUSTER_NODE_NETWORK=netns: the virtual nodes' address in the cluster's network namespace
  if [ -f "$root/.cluster/node-network.env" ]; then set -a; . "$root/.cluster/node-network.env"; set +a; fi
fi
kubectl="$root/.cluster/bin/kubectl"
[ -x "$kubectl" ] || kubectl=$(command -v kubectl)
"$kubectl" apply -f crds/ >/dev/null
# Every CRD in crds/; kubectl wait fails at once while a new CRD has no conditions yet: retry for ~60 s.
tries=0
until "$kubectl" wait --for=condition=Established -f crds/ --timeout=60s >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "the CRDs in crds/ did not become Established" >&2; exit 1; }
  sleep 1
done
# ASK's path by default: a VPC with one vSwitch and the kube-system/eci-profile ConfigMap (RUN_PROFILE=
# eciprofile applies the sample ECIProfile instead: several profiles, richer simulation).
if [ "${RUN_PROFILE:-configmap}" = eciprofile ]; then
  "$kubectl" apply -f manifests/examples/profile.yaml
else
  "$kubectl" apply -f manifests/examples/ask-vpc.yaml
  "$kubectl" get configmap -n kube-system eci-profile >/dev/null 2>&1 ||
    "$kubectl" apply -f manifests/examples/ask-eci-profile.yaml  # (an edited one is kept)
fi
metrics_port=${METRICS_PORT:-8081}
cat <<TXT

eci-operator is starting (logs below). ASK's demo through ASK's own objects, in another terminal:

  export KUBECONFIG=$KUBECONFIG
  alias kubectl=$kubectl
  kubectl get vsw && kubectl get nodes -L topology.kubernetes.io/zone    # one vSwitch, one virtual node
  kubectl apply -f manifests/examples/deployment.yaml                    # a Deployment for virtual nodes
  kubectl apply -f manifests/examples/ask-vswitch-j.yaml                 # a 2nd vSwitch, in cn-hangzhou-j
  kubectl -n kube-system patch cm eci-profile -p '{"data":{"vSwitchIds":"vsw-demo-i,vsw-demo-j"}}'
  kubectl get nodes -L topology.kubernetes.io/zone -w                    # the second node appears
  kubectl patch vsw vsw-demo-i --type=merge -p '{"spec":{"simulation":{"available":false}}}'  # zone i down
  kubectl scale deployment web --replicas=6 && kubectl get pods -o wide  # new replicas run in zone j
  kubectl -n kube-system get events --field-selector involvedObject.name=eci-profile  # what it made of it
  (RUN_PROFILE=eciprofile make run: the sample ECIProfile instead; both may serve, in different zones)
TXT
cat <<TXT

More:
  kubectl get pods -o wide && kubectl get cg                # instance spec, zone and IP of each pod
  kubectl describe pod -l app=web | grep -A8 Events         # ECI's events
  .venv/bin/eci-operator resolve -f manifests/examples/pod.yaml -p manifests/examples/profile.yaml -o text
  curl -s localhost:$metrics_port/metrics | grep eci_operator   # the operator's own figures

  # Elasticity: an HPA on CPU scales a virtual-node Deployment under a Load (README, "Metrics and autoscaling")
  kubectl apply -f manifests/examples/autoscaling.yaml      # Deployment burst, HPA, Load with a 2-minute step
  kubectl get hpa burst -w                                  # TARGETS and REPLICAS follow the Load
  kubectl top pods -l app=burst && kubectl top nodes        # usage from the virtual nodes' kubelet endpoints
  kubectl get load burst                                    # demand, served, unserved

TXT
exec "$bin/eci-operator" run --metrics-port "$metrics_port" --liveness "http://127.0.0.1:${LIVENESS_PORT:-8080}/healthz"
