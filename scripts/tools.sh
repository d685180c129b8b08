#!/usr/bin/env bash
# Builds the local cluster's Go tools from the Go module proxy, once per version:
# the control plane (kube-apiserver, kube-controller-manager, kube-scheduler,
# etcd, kwok, helm) and the real node (kubelet, kube-proxy, CoreDNS).
#
# Each tool has its own go.mod under tests/cluster/tools/<tool>/ (the tools pin
# different k8s.io library versions; one shared module would let minimum version
# selection mix them). Binaries land in a cache outside the repository, keyed by
# the tool's version, so only the first run pays:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/sreracha/<tool>-<version>/bin
#
#   scripts/tools.sh build [control-plane|node]   build whatever is missing
#                            (idempotent; default both, the node's tools only
#                            as root, since only root can run the real node)
#   scripts/tools.sh path    print the PATH entries (colon-separated)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tests/cluster/tools"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/sreracha"
# scripts/setup.sh fetches Go into the cache only when the machine's is too old.
for go_bin in "$CACHE"/go-*/go/bin; do
  if [[ -x "$go_bin/go" ]]; then export PATH="$go_bin:$PATH"; fi
done

# version_of <tool-dir> <module>: the version go.mod pins for module.
version_of() {
  awk -v m="$2" '$1 == m && $2 ~ /^v/ {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$TOOLS/$1/go.mod"
}

kubernetes_version() { version_of kubernetes k8s.io/kubernetes; }
etcd_version() { version_of etcd go.etcd.io/etcd/server/v3; }
kwok_version() { version_of kwok sigs.k8s.io/kwok; }
helm_version() { version_of helm helm.sh/helm/v3; }
coredns_version() { version_of coredns github.com/coredns/coredns; }

bin_dir() { echo "$CACHE/$1-$2/bin"; }

# build_into <tool-dir> <version> <ldflags> <package...>: builds into a
# temporary directory and renames it into place, so an interrupted build is
# never mistaken for a cached one.
build_into() {
  local tool="$1" version="$2" ldflags="$3"
  shift 3
  local dest
  dest="$(bin_dir "$tool" "$version")"
  if [[ -d "$dest" ]]; then
    return 0
  fi
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  echo "tools: building $tool $version (first run only; cached in $dest)" >&2
  local start=$SECONDS
  (cd "$TOOLS/$tool" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/" "$@")
  mv "$tmp" "$dest"
  echo "tools: built $tool $version in $((SECONDS - start))s" >&2
}

build_kubernetes() {
  local v major minor
  v="$(kubernetes_version)"
  major="${v#v}"; major="${major%%.*}"
  minor="${v#v*.}"; minor="${minor%%.*}"
  local pkg=k8s.io/component-base/version
  build_into kubernetes "$v" \
    "-X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
}

# kubelet and kube-proxy: a module of their own (kubernetes-node), so adding
# them did not change the control plane's module or invalidate its cache.
build_kubernetes_node() {
  local v major minor
  v="$(kubernetes_version)"
  major="${v#v}"; major="${major%%.*}"
  minor="${v#v*.}"; minor="${minor%%.*}"
  local pkg=k8s.io/component-base/version
  build_into kubernetes-node "$v" \
    "-X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z" \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy
}

# CoreDNS with only the plugins the cluster uses (tests/cluster/tools/coredns/main.go).
build_coredns() {
  local v
  v="$(coredns_version)"
  build_into coredns "$v" "-X github.com/coredns/coredns/coremain.GitCommit=$v" .
}

build_etcd() {
  local v
  v="$(etcd_version)"
  build_into etcd "$v" "" go.etcd.io/etcd/server/v3
  # The server module's main package is named after the module directory.
  local dest
  dest="$(bin_dir etcd "$v")"
  if [[ -f "$dest/v3" ]]; then mv "$dest/v3" "$dest/etcd"; fi
  if [[ -f "$dest/server" ]]; then mv "$dest/server" "$dest/etcd"; fi
}

build_kwok() {
  local v
  v="$(kwok_version)"
  build_into kwok "$v" "-X sigs.k8s.io/kwok/pkg/consts.Version=$v" sigs.k8s.io/kwok/cmd/kwok
}

build_helm() {
  local v
  v="$(helm_version)"
  build_into helm "$v" "-X helm.sh/helm/v3/internal/version.version=$v" helm.sh/helm/v3/cmd/helm
}

tool_path() {
  local parts=(
    "$(bin_dir kubernetes "$(kubernetes_version)")"
    "$(bin_dir etcd "$(etcd_version)")"
    "$(bin_dir kwok "$(kwok_version)")"
    "$(bin_dir helm "$(helm_version)")"
    "$(bin_dir kubernetes-node "$(kubernetes_version)")"
    "$(bin_dir coredns "$(coredns_version)")"
  )
  local IFS=:
  echo "${parts[*]}"
}

case "${1:-build}" in
  build)
    group="${2:-all}"
    if [[ "$group" == all || "$group" == control-plane ]]; then
      build_etcd
      build_kwok
      build_kubernetes
      build_helm
    fi
    if [[ "$group" == all || "$group" == node ]]; then
      if [[ $(id -u) -eq 0 ]]; then
        build_kubernetes_node
        build_coredns
      elif [[ "$group" == node ]]; then
        echo "tools: the real node's tools are built only as root (only root can run them)" >&2
      fi
    fi
    ;;
  path) tool_path ;;
  versions)
    echo "kubernetes $(kubernetes_version)"
    echo "etcd $(etcd_version)"
    echo "kwok $(kwok_version)"
    echo "helm $(helm_version)"
    echo "coredns $(coredns_version)"
    ;;
  *)
    echo "usage: $0 build [control-plane|node]|path|versions" >&2
    exit 2
    ;;
esac
