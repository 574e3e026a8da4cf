#!/usr/bin/env bash
# Builds the local control plane and its tools from the Go module proxy into .cluster/bin/ at the versions
# pinned in cluster/versions.env: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# metrics-server and helm. Nothing is downloaded but Go modules.
#
# Each group (kubernetes, etcd, metrics-server, helm) is built through a wrapper module of its own and has
# its own line in .cluster/bin/.versions ("<group>=<pin>"), so a new group is built alone and a pin change
# rebuilds only the group it concerns. While a group compiles, the build prints every BUILD_PROGRESS_EVERY
# seconds (20) how many of the packages it has to compile are done (`go list -deps` counts the stale ones,
# `go build -v` names each package as it compiles it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck disable=SC1091
source "$here/versions.env"
bin="$root/.cluster/bin"
work="$root/.cluster/build"
stamp="$bin/.versions"
every=${BUILD_PROGRESS_EVERY:-20}

groups=(kubernetes etcd metrics-server helm)
declare -A pin=(
  [kubernetes]=$KUBERNETES_VERSION
  [etcd]=$ETCD_VERSION
  [metrics-server]=$METRICS_SERVER_VERSION
  [helm]=$HELM_VERSION
)
declare -A outputs=(
  [kubernetes]="kube-apiserver kube-controller-manager kube-scheduler kubectl"
  [etcd]="etcd"
  [metrics-server]="metrics-server"
  [helm]="helm"
)

# The stamp holds one "<group>=<pin>" per line (an older build wrote them space-separated on one line).
stamped() { [ -f "$stamp" ] && tr ' ' '\n' <"$stamp" | grep -qxF "$1=${pin[$1]}"; }
restamp() {
  mkdir -p "$bin"
  { [ -f "$stamp" ] && tr ' ' '\n' <"$stamp" | grep -v "^$1=" | grep -v '^$' || true; echo "$1=${pin[$1]}"; } \
    >"$stamp.new"
  mv "$stamp.new" "$stamp"
}
present() { for b in ${outputs[$1]}; do [ -x "$bin/$b" ] || return 1; done; }

todo=()
for g in "${groups[@]}"; do
  if ! stamped "$g" || ! present "$g"; then todo+=("$g"); fi
done
if [ "${#todo[@]}" -eq 0 ]; then
  echo "control plane binaries up to date ($(for g in "${groups[@]}"; do printf '%s=%s ' "$g" "${pin[$g]}"; done | sed 's/ $//'))"
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
mkdir -p "$bin"
start=$SECONDS
step() { echo "[build $((SECONDS - start))s] $*"; }

# wrapper DIR MODULE REQUIREMENT...: a fresh go.mod requiring exactly the pinned modules.
wrapper() {
  local dir=$1 module=$2
  shift 2
  mkdir -p "$dir"
  rm -f "$dir/go.sum"
  { printf 'module %s\n\ngo 1.26\n\nrequire (\n' "$module"; printf '\t%s\n' "$@"; printf ')\n'; } >"$dir/go.mod"
}

# resolve DIR ARG...: `go get ARG...` in DIR, without the per-module chatter.
resolve() {
  local dir=$1
  shift
  (cd "$dir" && go get "$@" 2>&1 | grep -v '^go: \(finding\|downloading\|added\|upgraded\)' || true)
}

# compile GROUP DIR LDFLAGS PACKAGE...: one `go build` for all PACKAGEs (packages they share are compiled
# once), binaries into .cluster/bin, progress every $every s. The count of packages to compile is what
# `go list -deps` calls stale with the same flags (the main packages aside: they are linked anyway); `go
# build -v` prints exactly the packages it compiles.
compile() {
  local group=$1 dir=$2 ldflags=$3
  shift 3
  local out="$work/out/$group" log="$dir/build.log" total began pid target mains=()
  for p in "$@"; do mains+=(-e "$p"); done
  compiled() { grep -v ' ' "$log" | grep -cvxF "${mains[@]}" || true; }
  rm -rf "$out" && mkdir -p "$out"
  # One package: name its binary (go.etcd.io/etcd/server/v3 would be "server"); several: a directory.
  target="$out/"
  [ "$#" -eq 1 ] && target="$out/${outputs[$group]}"
  total=$(cd "$dir" && go list -deps -trimpath -f '{{if and .Stale (ne .Name "main")}}{{.ImportPath}}{{end}}' "$@" |
    grep -c . || true)
  step "building $group (${outputs[$group]// /, }): $total packages to compile"
  began=$SECONDS
  (cd "$dir" && exec go build -v -trimpath -ldflags "$ldflags" -o "$target" "$@") 2>"$log" &
  pid=$!
  local next=$((SECONDS + every))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ "$SECONDS" -ge "$next" ] && kill -0 "$pid" 2>/dev/null; then
      step "  $group: $(compiled)/$total packages compiled, $((SECONDS - began))s"
      next=$((SECONDS + every))
    fi
  done
  if ! wait "$pid"; then
    echo "error: building $group failed; the compiler said (full log: $log):" >&2
    grep ' ' "$log" | tail -40 >&2 || tail -40 "$log" >&2
    exit 1
  fi
  for b in ${outputs[$group]}; do mv "$out/$b" "$bin/$b"; done
  restamp "$group"
  step "built $group ${pin[$group]} in $((SECONDS - began))s ($(compiled) packages compiled, then linked)"
}

# Kubernetes: a wrapper module requiring k8s.io/kubernetes and replacing each staging module
# (k8s.io/kubernetes' own go.mod points them at ./staging, which a dependant cannot use) by its v0.X.Y.
build_kubernetes() {
  local v=$KUBERNETES_VERSION dir="$work/kubernetes" staging gomod
  staging="v0.${v#v1.}"
  wrapper "$dir" local/eci-operator-controlplane "k8s.io/kubernetes $v"
  step "resolving k8s.io/kubernetes $v (staging modules at $staging)"
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging"'#p' "$gomod"
    echo ")"
  } >>"$dir/go.mod"
  step "resolving dependencies (a first run downloads a few hundred MB of modules)"
  local cmds=()
  for c in ${outputs[kubernetes]}; do cmds+=("k8s.io/kubernetes/cmd/$c"); done
  resolve "$dir" "k8s.io/kubernetes@$v" "${cmds[@]}"
  compile kubernetes "$dir" "-s -w -X k8s.io/component-base/version.gitVersion=$v \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$v" | cut -d. -f2)" \
    "${cmds[@]}"
}

# etcd: its own go.mod carries replace directives for its sibling modules, so its wrapper pins the
# siblings to the same version.
build_etcd() {
  local v=$ETCD_VERSION dir="$work/etcd"
  wrapper "$dir" local/eci-operator-etcd "go.etcd.io/etcd/server/v3 $v"
  step "resolving etcd $v"
  resolve "$dir" "go.etcd.io/etcd/server/v3@$v" "go.etcd.io/etcd/api/v3@$v" "go.etcd.io/etcd/client/pkg/v3@$v" \
    "go.etcd.io/etcd/client/v3@$v" "go.etcd.io/etcd/pkg/v3@$v"
  compile etcd "$dir" "-s -w" go.etcd.io/etcd/server/v3
}

# metrics-server and helm: a wrapper requiring only the module, so its dependencies are exactly those of
# its own go.mod (what `go install MODULE@VERSION` would build), with the version stamped as upstream does.
build_metrics_server() {
  local v=$METRICS_SERVER_VERSION dir="$work/metrics-server"
  wrapper "$dir" local/eci-operator-metrics-server "sigs.k8s.io/metrics-server $v"
  step "resolving sigs.k8s.io/metrics-server $v"
  resolve "$dir" "sigs.k8s.io/metrics-server@$v" sigs.k8s.io/metrics-server/cmd/metrics-server
  compile metrics-server "$dir" "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$v" \
    sigs.k8s.io/metrics-server/cmd/metrics-server
}

build_helm() {
  local v=$HELM_VERSION dir="$work/helm" module
  module="helm.sh/helm/${v%%.*}"
  wrapper "$dir" local/eci-operator-helm "$module $v"
  step "resolving $module $v"
  resolve "$dir" "$module@$v" "$module/cmd/helm"
  compile helm "$dir" "-s -w -X $module/internal/version.version=$v" "$module/cmd/helm"
}

for g in "${todo[@]}"; do "build_${g//-/_}"; done
step "done: $(ls "$bin" | tr '\n' ' ')"
