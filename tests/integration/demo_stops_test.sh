#!/usr/bin/env bash
# scripts/demo leaves nothing running: Ctrl-C in live mode (SIGINT to the foreground process group, as
# a terminal sends it) and SIGTERM to the script alone both stop every process it started - the engine's
# nodes, PostgreSQL, hub, console, the demo's nurse, its subshell, simulators, dbus-daemon and gateway. Each run is a session of its own
# and carries a marker in its environment: a process left in that session, or carrying the marker, is
# one the demo left behind.
#   demo_stops_test.sh <build tree with ehealth-gateway, ehealth-gateway-tools, ehealth-hub and ehealth-console>
set -euo pipefail
build=$(realpath "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ehg-demo-stops.XXXXXX")
chmod 755 "$scratch"  # the demo's PostgreSQL runs as the postgres user when this runs as root
marker="EHG_DEMO_STOPS_TEST=$$.$RANDOM"
failures=0

# "pid command" of every live process in session $1 or with the marker in its environment (no forks:
# this runs in a loop).
leftovers() {
  local sid=$1 proc stat rest state session variable command
  for proc in /proc/[0-9]*; do
    read -r stat 2>/dev/null <"$proc/stat" || continue
    rest=${stat##*) }
    read -r state _ _ session _ <<<"$rest"
    [ "$state" = Z ] && continue
    local found=0
    [ "$session" = "$sid" ] && found=1
    if ((!found)); then
      while IFS= read -r -d '' variable; do
        [ "$variable" = "$marker" ] && found=1 && break
      done 2>/dev/null <"$proc/environ" || true
    fi
    ((found)) || continue
    command=$(tr '\0' ' ' <"$proc/cmdline" 2>/dev/null || true)
    echo "${proc#/proc/} ${command:0:140}"
  done
}

all_sessions=()
cleanup() {
  local sid pid _
  for sid in "${all_sessions[@]}"; do
    while read -r pid _; do kill -KILL "$pid" 2>/dev/null || true; done < <(leftovers "$sid")
  done
  rm -rf "$scratch"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# Starts the demo in live mode in a session of its own; sets `demo` (its pid, also the session and
# process group id) and `log`, and returns once every background process is running.
start_demo() {
  log=$scratch/demo-$1.log
  env "$marker" TMPDIR="$scratch" setsid "$repo/scripts/demo" --live --build "$build" >"$log" 2>&1 &
  demo=$!
  all_sessions+=("$demo")
  local _ sid=
  # setsid(1) makes a new session in place (no fork: a background job does not lead a process group).
  for _ in $(seq 100); do
    read -r _ _ _ sid _ < <(sed 's/.*) //' "/proc/$demo/stat")
    [ "$sid" = "$demo" ] && break
    sleep 0.05
  done
  [ "$sid" = "$demo" ] || { echo "the demo is not a session of its own" >&2; exit 1; }
  for _ in $(seq 600); do
    grep -q '== demo: live mode' "$log" && break
    kill -0 "$demo" 2>/dev/null || { cat "$log" >&2; echo "the demo ended before live mode" >&2; exit 1; }
    sleep 0.1
  done
  grep -q '== demo: live mode' "$log" || { cat "$log" >&2; echo "the demo did not reach live mode" >&2; exit 1; }
  # The positive control: what must be stopped afterwards is running now.
  local running
  running=$(leftovers "$demo")
  for expected in 'nats-server -c' 'postgres -D' ' run --server' 'ehealth-console --database' 'demo-nurse' \
    'simulate-serial' 'dbus-daemon' 'simulate-ble' ' run --config'; do
    grep -qF -- "$expected" <<<"$running" || { echo "$running" >&2; fail "before stopping: no '$expected' running"; }
  done
  [ "$(grep -c 'scripts/demo' <<<"$running")" -ge 2 ] || fail "before stopping: no subshell of the demo running"
}

# Waits up to 60 s for the demo to end; sets `status` to its exit status.
await_demo() {
  local stat
  for _ in $(seq 600); do
    # Gone (bash reaps its children as they end and keeps the status for `wait`) or a zombie.
    read -r stat 2>/dev/null <"/proc/$demo/stat" || break
    [[ ${stat##*) } == Z* ]] && break
    sleep 0.1
  done
  status=0
  wait "$demo" || status=$?
}

# Nothing of session $1 may be left a moment after the demo ended (it waits for what it stops).
expect_nothing_left() {
  local left=""
  for _ in $(seq 20); do
    left=$(leftovers "$1")
    [ -z "$left" ] && return
    sleep 0.1
  done
  fail "$2: still running after the demo ended:"$'\n'"$left"
}

# 1. Ctrl-C: SIGINT to the whole foreground process group. Live mode ends with its summary.
start_demo ctrl-c
sleep 1  # the gateway past its start-up, as a person watching the demo would be
kill -INT -- "-$demo"
await_demo
expect_nothing_left "$demo" "Ctrl-C"
grep -q 'demo data kept in' "$log" || { tail -20 "$log" >&2; fail "Ctrl-C: the demo did not end with its summary"; }

# 2. SIGTERM to the demo script alone (kill, a supervisor): it stops everything and reports 143.
start_demo sigterm
kill -TERM "$demo"
await_demo
expect_nothing_left "$demo" "SIGTERM"
[ "$status" = 143 ] || fail "SIGTERM: exit status $status, not 143"

if ((failures)); then
  echo "demo_stops_test: $failures failures" >&2
  exit 1
fi
echo "demo_stops_test: nothing left running after Ctrl-C or SIGTERM"
