# The Dockerfile, without a Docker engine (none runs here):
# - every shared library `ldd build/bin/sreracha-operator` lists comes from a
#   Debian package the runtime stage installs, and every package it installs
#   provides one of them or is one of DATA_PACKAGES (the mapping is this
#   machine's `dpkg -S`, so the machine must be Debian bookworm, like the image);
# - the build stage installs the same packages as scripts/setup.sh;
# - what the build stage COPYs (minus .dockerignore's exclusions) configures
#   with CMake and has the sreracha-operator target;
# - non-root UID 65532 and ENTRYPOINT ["/sreracha-operator"].
source "$(dirname "$0")/../lib/testlib.sh"
SRC="${SRERACHA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${SRERACHA_BINARY_DIR:-$SRC/build}/bin/sreracha-operator"
DOCKERFILE="$SRC/Dockerfile"
# Installed for their files, not a library: the CAs the Redis check trusts.
DATA_PACKAGES=(ca-certificates)
[[ -x "$BIN" ]] || fail "no $BIN (build it first)"

# shellcheck disable=SC1091
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
base="$(awk -F= '/^ARG DEBIAN_RELEASE=/ {print $2}' "$DOCKERFILE")"
[[ "$codename" == "$base" ]] ||
  fail "this machine is Debian '$codename', the image '$base': ldd and dpkg here say nothing about the image"

# Packages of an `apt-get install` in stage <n> (1-based) of the Dockerfile.
stage_packages() {
  awk -v want="$1" '
    /^FROM / {stage++}
    stage != want {next}
    {line = $0; sub(/#.*/, "", line)}
    cont || line ~ /^RUN / {
      cmd = cmd " " line
      cont = (line ~ /\\[ \t]*$/)
      if (!cont) {
        n = split(cmd, parts, /&&/)
        for (p = 1; p <= n; p++) {
          if (parts[p] !~ /apt-get install/) continue
          m = split(parts[p], words, /[ \t\\]+/)
          after = 0
          for (i = 1; i <= m; i++) {
            if (after && words[i] !~ /^-/ && words[i] != "") print words[i]
            if (words[i] == "install") after = 1
          }
        }
        cmd = ""
      }
    }' "$DOCKERFILE" | sort -u
}
stages="$(grep -c '^FROM ' "$DOCKERFILE")"
runtime_packages="$(stage_packages "$stages")"
build_packages="$(stage_packages 1)"
[[ -n "$runtime_packages" ]] || fail "no apt-get install found in the runtime stage"

# --- every library the binary links is installed, and nothing more ----------
declare -A needed
while read -r lib path; do
  [[ -n "$path" ]] || fail "ldd: $lib not found"
  pkg=""
  for candidate in "$(readlink -f "$path")" "$path" "/usr$path"; do
    pkg="$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1)" && [[ -n "$pkg" ]] && break
  done
  [[ -n "$pkg" ]] || fail "dpkg -S: no package owns $path ($lib)"
  grep -qx "$pkg" <<<"$runtime_packages" ||
    fail "$lib ($path) comes from $pkg, which the Dockerfile's runtime stage does not install"
  needed[$pkg]+="$lib "
done < <(ldd "$BIN" | awk '/=>/ {print $1, $3} /^[ \t]*\/[^ ]*ld-linux/ {print $1, $1}' | grep -v 'linux-vdso')
for pkg in "${DATA_PACKAGES[@]}"; do
  grep -qx "$pkg" <<<"$runtime_packages" || fail "the runtime stage does not install $pkg"
  needed[$pkg]="(data)"
done
for pkg in $runtime_packages; do
  [[ -n "${needed[$pkg]:-}" ]] || fail "the runtime stage installs $pkg, which provides no library the binary links"
done
for pkg in $runtime_packages; do echo "  $pkg: ${needed[$pkg]}"; done
pass "runtime stage installs exactly the packages of the $(ldd "$BIN" | grep -vc linux-vdso) libraries ldd lists, and ${DATA_PACKAGES[*]}"

# --- the build stage has setup.sh's packages ---------------------------------
setup_packages="$(sed -n '/^PACKAGES=(/,/^)/p' "$SRC/scripts/setup.sh" | sed '1d;$d' | tr ' ' '\n' | grep -v '^$' | sort -u)"
[[ -n "$setup_packages" ]] || fail "cannot read PACKAGES from scripts/setup.sh"
diff <(echo "$setup_packages") <(echo "$build_packages") >&2 ||
  fail "the build stage's packages (>) differ from scripts/setup.sh's (<)"
pass "build stage installs scripts/setup.sh's $(wc -w <<<"$setup_packages") packages"

# --- the build context configures --------------------------------------------
context="$(mktemp -d /tmp/sreracha-image-XXXX)"
trap 'rm -rf "$context"' EXIT
awk '/^FROM /{stage++} stage == 1 && /^COPY / && !/--from/ {for (i = 2; i < NF; i++) print $i}' "$DOCKERFILE" |
  while read -r path; do cp -r "$SRC/${path%/}" "$context/"; done
grep -v '^\s*\(#\|!\|\*\|$\)' "$SRC/.dockerignore" | grep -v '\*' | while read -r excluded; do
  rm -rf "${context:?}/${excluded%/}"
done
cmake -S "$context" -B "$context/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$context/cmake.log" 2>&1 ||
  fail "the build stage's COPYs do not configure: $(tail -5 "$context/cmake.log")"
# Captured first: with pipefail, `| grep -q` can fail the pipeline when grep
# exits at the first match and ninja is still writing (SIGPIPE).
targets="$(ninja -C "$context/build" -t targets all)"
grep -q '^sreracha-operator:' <<<"$targets" ||
  fail "no sreracha-operator target in the build context"
pass "the build stage's sources configure with CMake (target sreracha-operator)"

# --- how it runs --------------------------------------------------------------
grep -qx 'USER 65532:65532' "$DOCKERFILE" || fail "the image does not run as UID 65532"
grep -qx 'ENTRYPOINT \["/sreracha-operator"\]' "$DOCKERFILE" || fail 'ENTRYPOINT is not ["/sreracha-operator"]'
grep -q 'COPY --from=build /build/bin/sreracha-operator /sreracha-operator' "$DOCKERFILE" ||
  fail "the runtime stage does not copy the binary to /sreracha-operator"
pass "USER 65532:65532, ENTRYPOINT [\"/sreracha-operator\"]"
