#!/usr/bin/env bash
# Container images for the local cluster's real node, built from files on this
# machine and imported into its containerd: no registry, no Docker, nothing
# pulled. Each image is one uncompressed layer written as an OCI image layout
# (tar + sha256 + JSON, https://github.com/opencontainers/image-spec) by this
# script; the archives are cached outside the repository under their manifest
# digest, so an unchanged image is neither rewritten nor re-imported.
#
#   scripts/images.sh build  [image...]   write the OCI archives (default: all)
#   scripts/images.sh import [image...]   build, then import into containerd's
#                                         k8s.io namespace (skips unchanged ones)
#   scripts/images.sh ref <image>         the image's reference, e.g. localhost/pause:1.0
#   scripts/images.sh list                the images this script knows
#
# Images:
#   pause       localhost/pause:1.0        the pod sandbox (images/pause/pause.c)
#   testserver  localhost/testserver:1.0   HTTP test server and clients of the node tests
#                                          (images/testserver), glibc's getent
#                                          and a shell; USER is the name www
#   redis       localhost/redis:<version>  Debian's redis-server and its libraries
#   sreracha    localhost/sreracha:dev     build/bin/sreracha and its libraries,
#                                          USER www; skipped while the binary is missing
#
# Environment:
#   SRERACHA_CLUSTER_DIR   the cluster whose containerd `import` talks to
#                          (socket <dir>/node/containerd/containerd.sock)
#   SRERACHA_BINARY_DIR    where bin/sreracha is (default <repo>/build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/sreracha/images"
DIR="${SRERACHA_CLUSTER_DIR:-${TMPDIR:-/tmp}/sreracha-cluster-$(id -u)}"
SOCKET="$DIR/node/containerd/containerd.sock"
BINARY_DIR="${SRERACHA_BINARY_DIR:-$ROOT/build}"
IMAGES=(pause testserver redis sreracha)
PAUSE_VERSION=1.0
TESTSERVER_VERSION=1.0

log() { echo "images: $*" >&2; }
die() { echo "images: $*" >&2; exit 1; }

redis_version() {
  # Debian's "5:7.0.15-1~deb12u10" -> the upstream "7.0.15".
  local v
  v="$(dpkg-query -W -f='${Version}' redis-server 2>/dev/null)" || die "Debian's redis-server is not installed (scripts/setup.sh)"
  v="${v#*:}"
  echo "${v%%-*}"
}

ref_of() {
  case "$1" in
    pause) echo "localhost/pause:$PAUSE_VERSION" ;;
    testserver) echo "localhost/testserver:$TESTSERVER_VERSION" ;;
    redis) echo "localhost/redis:$(redis_version)" ;;
    sreracha) echo "localhost/sreracha:dev" ;;
    *) die "unknown image '$1' (known: ${IMAGES[*]})" ;;
  esac
}

# --- the root file system ---------------------------------------------------

# compile <name> <source> <version-macro=value>: a static, stripped binary of
# ours, cached under the hash of its source and flags.
compile() {
  local name="$1" source="$2" define="$3" key out
  key="$(cat "$source" <(echo "$define") | sha256sum | cut -c1-16)"
  out="$CACHE/bin/$name-$key"
  if [[ ! -x "$out" ]]; then
    mkdir -p "$CACHE/bin"
    gcc -static -Os -s -Wall -Wextra -Werror -D"$define" -o "$out.tmp.$$" "$source"
    mv "$out.tmp.$$" "$out"
  fi
  echo "$out"
}

# add_file <root> <host-path> [<image-path>]: copies a file, following symlinks.
add_file() {
  local root="$1" src="$2" dest="${3:-$2}"
  mkdir -p "$root$(dirname "$dest")"
  cp -L --preserve=mode "$src" "$root$dest"
}

# add_program <root> <host-path> [<image-path>]: a dynamically linked program
# and every shared library ldd says it loads, at the paths ldd names (the
# loader's path is compiled into the program).
add_program() {
  local root="$1" src="$2" dest="${3:-$2}" lib
  add_file "$root" "$src" "$dest"
  while read -r lib; do
    add_file "$root" "$lib"
  done < <(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}

# base_files <root> <named users...>: /etc/passwd and /etc/group with root and
# the given "name:uid" users, name lookups through files then DNS, and /tmp.
base_files() {
  local root="$1" user name uid
  shift
  mkdir -p "$root/etc" "$root/tmp"
  chmod 1777 "$root/tmp"
  echo "root:x:0:0:root:/root:/usr/sbin/nologin" >"$root/etc/passwd"
  echo "root:x:0:" >"$root/etc/group"
  for user in "$@"; do
    name="${user%%:*}" uid="${user#*:}"
    echo "$name:x:$uid:$uid:$name:/nonexistent:/usr/sbin/nologin" >>"$root/etc/passwd"
    echo "$name:x:$uid:" >>"$root/etc/group"
  done
  echo "hosts: files dns" >"$root/etc/nsswitch.conf"
}

# Each rootfs_<image> <root> fills the root file system and prints the image
# config's "config" object (entrypoint, user, ...) as JSON.
rootfs_pause() {
  base_files "$1"
  add_file "$1" "$(compile pause "$ROOT/images/pause/pause.c" "PAUSE_VERSION=\"$PAUSE_VERSION\"")" /pause
  jq -n '{Entrypoint: ["/pause"], User: "65535:65535"}'
}

rootfs_testserver() {
  base_files "$1" www:33
  add_file "$1" "$(compile testserver "$ROOT/images/testserver/testserver.c" "TESTSERVER_VERSION=\"$TESTSERVER_VERSION\"")" \
    /usr/local/bin/testserver
  add_program "$1" "$(command -v getent)" /usr/bin/getent
  add_program "$1" /bin/dash /bin/sh
  # Named, like the app's image: runAsNonRoot needs a numeric runAsUser with it.
  jq -n '{Entrypoint: ["/usr/local/bin/testserver"], Cmd: ["serve", "--port", "80"], User: "www",
          Env: ["PATH=/usr/local/bin:/usr/bin:/bin"], ExposedPorts: {"80/tcp": {}}}'
}

rootfs_redis() {
  command -v redis-server >/dev/null || die "Debian's redis-server is not installed (scripts/setup.sh)"
  base_files "$1" redis:999
  add_program "$1" "$(command -v redis-server)" /usr/bin/redis-server
  # What the operator's Local-mode Deployment runs besides the server: its
  # start script (sh, sed: the password goes to redis-server's stdin, never
  # its argv) and its readiness probe (redis-cli ping | grep).
  add_program "$1" "$(command -v redis-cli)" /usr/bin/redis-cli
  add_program "$1" /bin/dash /bin/sh
  add_program "$1" "$(command -v sed)" /bin/sed
  add_program "$1" "$(command -v grep)" /bin/grep
  mkdir -p "$1/data"
  chmod 1777 "$1/data"
  # A numeric user, so runAsNonRoot works without a runAsUser. No
  # persistence: it is a cache for the app's counter.
  jq -n '{Entrypoint: ["/usr/bin/redis-server"],
          Cmd: ["--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", "/data"],
          User: "999:999", WorkingDir: "/data", ExposedPorts: {"6379/tcp": {}},
          Env: ["PATH=/usr/bin:/bin"]}'
}

rootfs_sreracha() {
  base_files "$1" www:33
  add_program "$1" "$BINARY_DIR/bin/sreracha" /usr/local/bin/sreracha
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    # For TLS to Redis (ElastiCache in production).
    add_file "$1" /etc/ssl/certs/ca-certificates.crt
  fi
  # The user is a name, as in the original app's image.
  jq -n '{Entrypoint: ["/usr/local/bin/sreracha"], User: "www",
          Env: ["PATH=/usr/local/bin:/usr/bin:/bin"], ExposedPorts: {"80/tcp": {}}}'
}

available() {
  if [[ "$1" == sreracha && ! -x "$BINARY_DIR/bin/sreracha" ]]; then
    log "skipping sreracha: $BINARY_DIR/bin/sreracha does not exist yet (build app/ first)"
    return 1
  fi
}

# --- the OCI layout ----------------------------------------------------------

# blob <layout> <file>: moves file into blobs/sha256/, prints its digest.
blob() {
  local digest
  digest="$(sha256sum "$2" | cut -d' ' -f1)"
  mkdir -p "$1/blobs/sha256"
  mv "$2" "$1/blobs/sha256/$digest"
  echo "sha256:$digest"
}

size_of() { stat -c %s "$1/blobs/sha256/${2#sha256:}"; }

# build <image>: prints the path of the image's OCI archive, writing it first
# unless an archive with the same manifest digest is cached.
build() {
  local image="$1" ref work
  ref="$(ref_of "$image")"
  work="$(mktemp -d "${TMPDIR:-/tmp}/sreracha-image-XXXXXX")"
  # shellcheck disable=SC2064  # expand now: work is local
  trap "rm -rf '$work'" RETURN
  mkdir -p "$work/rootfs" "$work/layout"
  "rootfs_$image" "$work/rootfs" >"$work/config.json"

  # A reproducible layer: sorted names, no timestamps, root-owned.
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$work/rootfs" -cf "$work/layer.tar" .
  local layer config manifest
  layer="$(blob "$work/layout" "$work/layer.tar")"
  jq -c --arg layer "$layer" \
    '{architecture: "amd64", os: "linux", config: .,
      rootfs: {type: "layers", diff_ids: [$layer]},
      history: [{created_by: "scripts/images.sh"}]}' "$work/config.json" >"$work/config.blob"
  config="$(blob "$work/layout" "$work/config.blob")"
  jq -nc --arg config "$config" --argjson config_size "$(size_of "$work/layout" "$config")" \
    --arg layer "$layer" --argjson layer_size "$(size_of "$work/layout" "$layer")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $config, size: $config_size},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $layer, size: $layer_size}]}' \
    >"$work/manifest.blob"
  manifest="$(blob "$work/layout" "$work/manifest.blob")"

  local archive="$CACHE/$image-${manifest#sha256:}.tar"
  if [[ ! -f "$archive" ]]; then
    # containerd names the image after io.containerd.image.name.
    jq -nc --arg manifest "$manifest" --argjson size "$(size_of "$work/layout" "$manifest")" \
      --arg ref "$ref" --arg tag "${ref##*:}" \
      '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $manifest, size: $size,
                     annotations: {"io.containerd.image.name": $ref, "org.opencontainers.image.ref.name": $tag}}]}' \
      >"$work/layout/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
    mkdir -p "$CACHE"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/layout" \
      -cf "$archive.tmp.$$" oci-layout index.json blobs
    mv "$archive.tmp.$$" "$archive"
    # Older archives of this image are superseded.
    find "$CACHE" -maxdepth 1 -name "$image-*.tar" ! -path "$archive" -delete
    log "built $ref (${manifest:0:19}, $(($(stat -c %s "$archive") / 1024)) KiB)"
  fi
  echo "$archive"
}

ctr_() { ctr --address "$SOCKET" --namespace k8s.io "$@"; }

import() {
  local image="$1" ref archive digest current
  ref="$(ref_of "$image")"
  archive="$(build "$image")"
  [[ -S "$SOCKET" ]] || die "no containerd at $SOCKET (scripts/local-cluster.sh up starts it)"
  digest="sha256:$(basename "$archive" .tar | sed "s/^$image-//")"
  current="$(ctr_ images ls | awk -v ref="$ref" '$1 == ref {print $3}')"
  if [[ "$current" == "$digest" ]]; then
    return 0
  fi
  ctr_ images import "$archive" >/dev/null
  log "imported $ref"
}

names_or_all() {
  if (($#)); then printf '%s\n' "$@"; else printf '%s\n' "${IMAGES[@]}"; fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
  build)
    for image in $(names_or_all "$@"); do
      if available "$image"; then build "$image" >/dev/null; fi
    done
    ;;
  import)
    for image in $(names_or_all "$@"); do
      if available "$image"; then import "$image"; fi
    done
    ;;
  ref)
    (($# == 1)) || die "usage: $0 ref <image>"
    ref_of "$1"
    ;;
  list) printf '%s\n' "${IMAGES[@]}" ;;
  *)
    echo "usage: $0 build|import [image...] | ref <image> | list" >&2
    exit 2
    ;;
esac
