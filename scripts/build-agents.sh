#!/usr/bin/env bash
# Builds ward-agent and ward-update for every Linux platform Ward ships and
# lays them out as a ward-server packages dir:
#
#   <out>/linux-x86_64/{ward-agent,ward-update}    x86_64-unknown-linux-musl (static)
#   <out>/linux-i686/{ward-agent,ward-update}      i686-unknown-linux-gnu (the seed's 32-bit package)
#   <out>/linux-aarch64/{ward-agent,ward-update}   aarch64-unknown-linux-gnu
#
# Usage: scripts/build-agents.sh [--profile release|agent-test] [--out DIR] [--only PLATFORM]...
#   --profile   release (default; LTO, opt-level "s": what operators install)
#               agent-test (no LTO, opt-level 1: for the end-to-end tests, much faster to build)
#   --out       default target/packages/<profile>
# Point the server at it with `packages_dir = "<out>"` (or WARD_PACKAGES_DIR).
#
# Installs what it needs when missing (as root): the Rust targets (rustup),
# the linkers (Debian gcc-i686-linux-gnu, gcc-aarch64-linux-gnu and their
# libc6-dev-*-cross, musl-tools)
# and qemu-user-static (to run the foreign builds in tests).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
out=
only=()
while (($#)); do
  case $1 in
    --profile) profile=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only+=("$2"); shift 2 ;;
    *) echo "build-agents: unknown argument $1" >&2; exit 2 ;;
  esac
done
out=${out:-target/packages/$profile}

# platform:target:linker:cc
builds=(
  "linux-x86_64:x86_64-unknown-linux-musl:cc:musl-gcc"
  "linux-i686:i686-unknown-linux-gnu:i686-linux-gnu-gcc:i686-linux-gnu-gcc"
  "linux-aarch64:aarch64-unknown-linux-gnu:aarch64-linux-gnu-gcc:aarch64-linux-gnu-gcc"
)

need=()
command -v musl-gcc >/dev/null 2>&1 || need+=(musl-tools)
# The cross compilers' C libraries (headers and startup files) are only
# Recommends of the compilers: name them.
command -v i686-linux-gnu-gcc >/dev/null 2>&1 || need+=(gcc-i686-linux-gnu)
[[ -d /usr/i686-linux-gnu/include ]] || need+=(libc6-dev-i386-cross)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need+=(gcc-aarch64-linux-gnu)
[[ -d /usr/aarch64-linux-gnu/include ]] || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "build-agents: missing Debian packages ${need[*]} and not root; install them with apt-get" >&2
    exit 1
  fi
  echo "build-agents: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

installed=$(rustup target list --installed)
for b in "${builds[@]}"; do
  IFS=: read -r platform target linker cc <<<"$b"
  if ((${#only[@]})) && [[ ! " ${only[*]} " == *" $platform "* ]]; then continue; fi
  grep -qx "$target" <<<"$installed" || rustup target add "$target"
  tvar=$(tr 'a-z-' 'A-Z_' <<<"$target")
  start=$SECONDS
  env "CARGO_TARGET_${tvar}_LINKER=$linker" "CC_${target//-/_}=$cc" \
    cargo build --locked --profile "$profile" --target "$target" -p ward-agent -p ward-update
  dir=target/$target/$profile
  mkdir -p "$out/$platform"
  for p in ward-agent ward-update; do
    install -m 0755 "$dir/$p" "$out/$platform/$p"
  done
  echo "build-agents: $platform ($target, $profile) in $((SECONDS - start)) s:" \
    "ward-agent $(stat -c %s "$out/$platform/ward-agent") bytes, ward-update $(stat -c %s "$out/$platform/ward-update") bytes"
done
echo "build-agents: packages in $out"
