#!/usr/bin/env bash
# Quick start: builds Ward, starts ward-server on the embedded SQLite store and
# protects this host with a local agent installed into ./.ward-demo/agent.
#
#   scripts/quickstart.sh          start (idempotent: re-running repairs)
#   scripts/quickstart.sh stop     stop the demo server, agent and updater
#
# Environment: QUICKSTART_PORT (default 8443), QUICKSTART_DIR (default ./.ward-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo=${QUICKSTART_DIR:-$root/.ward-demo}
port=${QUICKSTART_PORT:-8443}
data=$demo/server
prefix=$demo/agent
bin=$root/target/debug

stop() {
  [[ -x $prefix/bin/ward-agent ]] && "$prefix/bin/ward-agent" stop --prefix "$prefix" || true
  [[ -x $prefix/bin/ward-update ]] && "$prefix/bin/ward-update" stop --prefix "$prefix" || true
  if [[ -f $demo/server.pid ]]; then
    kill "$(cat "$demo/server.pid")" 2>/dev/null || true
    rm -f "$demo/server.pid"
  fi
}

if [[ ${1:-} == stop ]]; then
  stop
  echo "Ward demo stopped (data kept in $demo)."
  exit 0
fi

echo "==> Building ward-server, ward-agent and ward-update"
cargo build --bins -p ward-server -p ward-agent -p ward-update

mkdir -p "$demo"
if [[ -f $demo/server.pid ]] && kill -0 "$(cat "$demo/server.pid")" 2>/dev/null; then
  echo "==> ward-server already running (pid $(cat "$demo/server.pid"))"
else
  echo "==> Starting ward-server on https://127.0.0.1:$port (data in $data)"
  nohup "$bin/ward-server" serve --data-dir "$data" --listen "127.0.0.1:$port" \
    >>"$demo/server.log" 2>&1 &
  echo $! >"$demo/server.pid"
  for _ in $(seq 1 100); do
    curl -fsSk --max-time 1 "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$(cat "$demo/server.pid")" 2>/dev/null || { echo "ward-server failed to start; see $demo/server.log" >&2; tail -5 "$demo/server.log" >&2; exit 1; }
    sleep 0.1
  done
fi

# The first start prints the console password once (to server.log here):
# keep it for the newcomer in a 0600 file.
if [[ ! -s $demo/console-password ]]; then
  pw=$(sed -n 's/.*Console password (shown only this once; user admin): \(\S*\).*/\1/p' "$demo/server.log" | tail -1)
  if [[ -n $pw ]]; then
    (umask 077 && printf '%s\n' "$pw" >"$demo/console-password")
  fi
fi

if [[ ! -s $demo/api-token ]]; then
  "$bin/ward-server" token create --data-dir "$data" --label quickstart \
    | grep -o 'wt_[A-Za-z0-9_-]*' | head -1 >"$demo/api-token"
  chmod 600 "$demo/api-token"
fi
token=$(cat "$demo/api-token")

echo "==> Installing the agent for this host into $prefix"
cmd=$("$bin/ward-server" install-command --data-dir "$data" --platform linux-x86_64)
sh -c "$cmd --prefix '$prefix'"

pin=$(sed -n 's/.*"pin": *"\([^"]*\)".*/\1/p' "$data/server.json")
cat <<MSG

Ward is running.
  Console      : https://127.0.0.1:$port/console/   (user admin, password in $demo/console-password;
                 the certificate is Ward's own CA: accept it in the browser, or check the pin below)
  Server / API : https://127.0.0.1:$port   (key pin $pin)
  API token    : $demo/api-token
  Assets       : curl -sk --pinnedpubkey '$pin' -H "Authorization: Bearer \$(cat $demo/api-token)" https://127.0.0.1:$port/api/v1/assets
  Agent status : $prefix/bin/ward-agent status --prefix $prefix
  Install cmd  : $bin/ward-server install-command --data-dir $data --platform linux-x86_64
  Stop         : scripts/quickstart.sh stop
MSG
curl -fsSk --pinnedpubkey "$pin" -H "Authorization: Bearer $token" \
  "https://127.0.0.1:$port/api/v1/assets" | head -c 2000
echo
