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
# Lifecycle tests: flock(1) stands in for a running ward-update; unshare and
# mount give a cloned install the same path in its own mount namespace.
want flock util-linux
want unshare util-linux
# Login detection tests (tests/e2e/tests/detection.rs): a real sshd and rsyslog
# in a network namespace, attacked with ssh + sshpass from another one.
want sshd openssh-server
want ssh openssh-client
want sshpass sshpass
want rsyslogd rsyslog
# ... and a private systemd-journald for the journald collector (no auth log file).
want journalctl systemd
# wtmp/btmp records written by util-linux's utmpdump (crates/collect-auth tests).
want utmpdump util-linux
# Console tests (tests/console): Debian's Chromium driven by playwright-core from npm.
want chromium chromium
want node nodejs
want npm npm
# Network tests (tests/e2e/tests/network.rs): a real HTTP CONNECT proxy,
# firewall rules in a namespace, and a faked clock for `ward-agent doctor`.
want tinyproxy tinyproxy-bin
want iptables-save iptables
want nft nftables
want faketime faketime
# Host detection tests (tests/e2e/tests/hostdetect.rs): normal work with a
# real cron daemon and log rotation, Debian packages built with dpkg-deb and
# installed with apt, accounts made with useradd.
want cron cron
want logrotate logrotate
want dpkg-deb dpkg
want useradd passwd
# Lifecycle tests (tests/e2e/tests/lifecycle.rs): a C compiler builds a
# release that never comes online. scripts/build-agents.sh installs the
# cross linkers and qemu-user-static for tests/e2e/tests/platforms.rs.
want cc gcc

if ((${#need_pkgs[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-test-deps: missing packages ${need_pkgs[*]} and not root; install them with apt-get" >&2
    exit 1
  fi
  echo "install-test-deps: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packages such as openssh-server and rsyslog start their daemons when
  # installed; the tests run their own copies, so keep the host's stopped.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  if ((own_policy)); then rm -f "$policy"; fi
fi

for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done
