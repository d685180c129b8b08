#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine.
# Idempotent; takes well under a second when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates unzip
  libcpprest-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev
  libgtest-dev libgmock-dev libcli11-dev libssl-dev libhiredis-dev
  clang-format
)
# The local cluster's real node (scripts/real-node.sh) and its Redis image
# (scripts/images.sh). An array of its own: PACKAGES is what building the
# operator needs, which the Dockerfile's build stage mirrors (image_test).
REAL_NODE_PACKAGES=(containerd runc containernetworking-plugins iptables redis-server)
# The app (app/: Boost.Beast; hiredis is in PACKAGES) and its tests and benchmark (Redis,
# openssl, wrk). An array of its own too: the operator's image needs none.
APP_PACKAGES=(libboost-dev redis-server redis-tools openssl wrk)
# Clang, for the thread-safety build (make build-tsa) and the fuzz targets
# (make build-fuzz; libFuzzer and the sanitizers' runtimes), both part of make
# test: checks, not what builds the operator (nor its image), so not in PACKAGES.
CHECK_PACKAGES=(clang-14 libclang-rt-14-dev)
# The oldest Go that builds every tool module under tests/cluster/tools.
GO_WANT=1.26.8

missing=()
for p in "${PACKAGES[@]}" "${REAL_NODE_PACKAGES[@]}" "${APP_PACKAGES[@]}" "${CHECK_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go: use the machine's when new enough, else fetch the toolchain zip from the
# Go module proxy (the same source `go` itself uses for toolchain switching)
# into the cache.
go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v
  v="$(go env GOVERSION 2>/dev/null)"; v="${v#go}"
  [[ "$(printf '%s\n%s\n' "$GO_WANT" "$v" | sort -V | head -1)" == "$GO_WANT" ]]
}
if ! go_ok; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/sreracha/go-$GO_WANT"
  if [[ ! -x "$cache/go/bin/go" ]]; then
    echo "setup: fetching Go $GO_WANT from the Go module proxy" >&2
    mkdir -p "$cache"
    url="https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_WANT.linux-$(dpkg --print-architecture).zip"
    curl -fsSL "$url" -o "$cache/go.zip"
    (cd "$cache" && unzip -q go.zip && rm go.zip)
    # The zip holds golang.org/toolchain@.../ as its top directory.
    mv "$cache"/golang.org/toolchain@*/ "$cache/go"
    rm -rf "$cache/golang.org"
    chmod +x "$cache/go/bin/"* "$cache/go/pkg/tool/"*/* 2>/dev/null || true
  fi
  echo "setup: add $cache/go/bin to PATH (the Makefile does)" >&2
fi
