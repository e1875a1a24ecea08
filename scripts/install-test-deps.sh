#!/usr/bin/env bash
# Installs what Ward's tests need from Debian's packages and rustup, only if missing.
# Safe to run repeatedly; CI runs it on a fresh machine as root.
set -euo pipefail

need_pkgs=()
want() { # want <command> <debian package>
  command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2")
}
want curl curl
want ip iproute2
want pgrep procps
want openssl openssl
want sha256sum coreutils

if ((${#need_pkgs[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-test-deps: missing packages ${need_pkgs[*]} and not root; install them with apt-get" >&2
    exit 1
  fi
  echo "install-test-deps: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done
