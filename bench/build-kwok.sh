#!/usr/bin/env bash
# Builds KWOK's controller (sigs.k8s.io/kwok/cmd/kwok), the benchmark's peer, from the Go module proxy into
# .cluster/bin/kwok at the KWOK_VERSION pinned in cluster/versions.env. Like cluster/build.sh it goes through
# a small wrapper module (nothing fetched is kept in the tree) and rebuilds only when the pin changes.
# It also writes .cluster/bin/kwok-stages.yaml: KWOK's own default stages at that version, taken from the
# module (what `kwokctl create cluster` configures): node-initialize, node-heartbeat-with-lease, and the
# "pod fast" stages pod-ready, pod-complete, pod-delete.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck disable=SC1091
source "$root/cluster/versions.env"
bin="${KWOK_BIN_DIR:-$root/.cluster/bin}"
work="$root/.cluster/build/kwok"
stamp="$bin/.kwok-version"
want="kwok=$KWOK_VERSION"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$bin/kwok" ] && [ -s "$bin/kwok-stages.yaml" ]; then
  echo "kwok up to date ($want)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: the Go toolchain (go) is not on PATH; it is needed once to build kwok (see README, Prerequisites)" >&2
  exit 1
fi
export CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin" "$work"
start=$(date +%s)
step() { echo "[build-kwok $(( $(date +%s) - start ))s] $*"; }
cat >"$work/go.mod" <<GOMOD
module local/eci-operator-kwok

go 1.26

require sigs.k8s.io/kwok $KWOK_VERSION
GOMOD
rm -f "$work/go.sum"
step "resolving sigs.k8s.io/kwok $KWOK_VERSION"
(cd "$work" && go get "sigs.k8s.io/kwok@$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok 2>&1 \
  | grep -v '^go: \(finding\|downloading\|added\|upgraded\)' || true)
step "building kwok"
(cd "$work" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
  -o "$bin/kwok.new" sigs.k8s.io/kwok/cmd/kwok)
mv "$bin/kwok.new" "$bin/kwok"
step "writing kwok-stages.yaml (KWOK's default node and pod-fast stages)"
src=$(cd "$work" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
{
  echo "# KWOK $KWOK_VERSION default stages, copied by bench/build-kwok.sh from $src/kustomize/stage"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    cat "$src/kustomize/stage/$f"
  done
} >"$bin/kwok-stages.yaml.new"
mv "$bin/kwok-stages.yaml.new" "$bin/kwok-stages.yaml"
echo "$want" >"$stamp"
step "done: $bin/kwok"
