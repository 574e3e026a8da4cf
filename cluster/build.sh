#!/usr/bin/env bash
# Builds the local control plane from the Go module proxy into .cluster/bin/:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl at the versions pinned in
# cluster/versions.env. Nothing is downloaded but Go modules. Rebuilds only when the pin changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck disable=SC1091
source "$here/versions.env"
bin="$root/.cluster/bin"
work="$root/.cluster/build"
stamp="$bin/.versions"
want="kubernetes=$KUBERNETES_VERSION etcd=$ETCD_VERSION"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

have_all() { for c in "${components[@]}"; do [ -x "$bin/$c" ] || return 1; done; }
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && have_all; then
  echo "control plane binaries up to date ($want)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: the Go toolchain (go) is not on PATH; it is needed once to build the control plane (see README, Prerequisites)" >&2
  exit 1
fi
if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
  echo "note: no C compiler found; building with CGO_ENABLED=0" >&2
fi
export CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin" "$work/kubernetes" "$work/etcd"
start=$(date +%s)
step() { echo "[build $(( $(date +%s) - start ))s] $*"; }

# Kubernetes: a wrapper module requiring k8s.io/kubernetes and replacing each staging module
# (k8s.io/kubernetes' own go.mod points them at ./staging, which a dependant cannot use) by its v0.X.Y.
staging_version="v0.${KUBERNETES_VERSION#v1.}"
kmod="$work/kubernetes"
{
  echo "module local/eci-operator-controlplane"
  echo
  echo "go 1.26"
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
} >"$kmod/go.mod"
step "resolving k8s.io/kubernetes $KUBERNETES_VERSION (staging modules at $staging_version)"
(cd "$kmod" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null)
kgomod=$(cd "$kmod" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo
  echo "replace ("
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$kgomod"
  echo ")"
} >>"$kmod/go.mod"
step "resolving dependencies (first run downloads a few hundred MB of modules)"
(cd "$kmod" && go get "k8s.io/kubernetes@$KUBERNETES_VERSION" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl 2>&1 | grep -v '^go: \(finding\|downloading\|added\|upgraded\)' || true)
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  step "building $c"
  (cd "$kmod" && go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)" -o "$bin/$c.new" "k8s.io/kubernetes/cmd/$c")
  mv "$bin/$c.new" "$bin/$c"
done

# etcd: its own go.mod carries replace directives for its sibling modules, so build it through a
# wrapper too, with the siblings pinned to the same version.
emod="$work/etcd"
cat >"$emod/go.mod" <<GOMOD
module local/eci-operator-etcd

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
step "resolving etcd $ETCD_VERSION"
(cd "$emod" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "go.etcd.io/etcd/api/v3@$ETCD_VERSION" \
  "go.etcd.io/etcd/client/pkg/v3@$ETCD_VERSION" "go.etcd.io/etcd/client/v3@$ETCD_VERSION" \
  "go.etcd.io/etcd/pkg/v3@$ETCD_VERSION" 2>&1 | grep -v '^go: \(finding\|downloading\|added\|upgraded\)' || true)
step "building etcd"
(cd "$emod" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.new" go.etcd.io/etcd/server/v3)
mv "$bin/etcd.new" "$bin/etcd"
echo "$want" >"$stamp"
step "done: $(ls "$bin" | tr '\n' ' ')"
