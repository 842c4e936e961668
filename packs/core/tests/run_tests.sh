#!/bin/sh
# CLI smoke tests for the core pack, reported as TAP (the "CLI Smoke Tests" suite).
#
# Runs the action and sensor scripts the way a runner does: directly, in a clean
# environment, with parameters as ATTUNE_ACTION_* / ATTUNE_SENSOR_* variables, and
# checks exit codes and output. The only network peer is a `python3 -m http.server`
# this script starts on 127.0.0.1 (port 0: the system picks a free one).
#
# Exit status: 0 when every planned test printed `ok`, 1 otherwise.
set -u

PLAN=21
here=$(cd "$(dirname "$0")" && pwd)
pack=$(dirname "$here")
actions=$pack/actions
sensors=$pack/sensors
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/core-smoke.XXXXXX") || exit 1
server_pid=
sensor_pid=
n=0
failed=0

cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; fi
    if [ -n "$sensor_pid" ]; then kill "$sensor_pid" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}

# not_ok DESCRIPTION [DIAGNOSTIC ...]: diagnostics become TAP comment lines
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    for line in "$@"; do
        printf '# %s\n' "$line" | tr '\n' ' ' | sed 's/ $//'
        echo
    done
}

# run SCRIPT [NAME=value ...]: run SCRIPT with only PATH and the given variables;
# sets $rc and leaves stdout and stderr in $work/out and $work/err
run() {
    script=$1
    shift
    env -i PATH="$PATH" "$@" "$script" >"$work/out" 2>"$work/err"
    rc=$?
}

# same FILE TEXT: FILE holds exactly TEXT and a newline (or is empty when TEXT is empty)
same() {
    if [ -z "$2" ]; then
        [ ! -s "$1" ]
    else
        printf '%s\n' "$2" | cmp -s - "$1"
    fi
}

details() {
    echo "exit code $rc"
    echo "stdout: $(head -c 400 "$work/out")"
    echo "stderr: $(head -c 400 "$work/err")"
}

# expect DESCRIPTION EXIT_CODE STDOUT STDERR: judge the last run on exact output
expect() {
    if [ "$rc" -eq "$2" ] && same "$work/out" "$3" && same "$work/err" "$4"; then
        ok "$1"
    else
        not_ok "$1" "wanted exit code $2, stdout '$3', stderr '$4'" "$(details)"
    fi
}

# json CONDITION: a Python expression over `r`, the JSON object the last run printed
json() {
    "$python" -c '
import json, sys
with open(sys.argv[1], encoding="utf-8") as out:
    lines = out.read().splitlines()
r = json.loads(lines[0]) if len(lines) == 1 else None
sys.exit(0 if r is not None and eval("(" + sys.argv[2] + ")") else 1)
' "$work/out" "$1" 2>/dev/null
}

# expect_json DESCRIPTION EXIT_CODE CONDITION [STDERR]
expect_json() {
    if [ "$rc" -eq "$2" ] && json "$3" && same "$work/err" "${4-}"; then
        ok "$1"
    else
        not_ok "$1" "wanted exit code $2 and $3" "$(details)"
    fi
}

echo "1..$PLAN"

# The sensor needs a real second to fire; it runs in the background meanwhile.
env -i PATH="$PATH" ATTUNE_SENSOR_UNIT=seconds ATTUNE_SENSOR_DELTA=1 ATTUNE_SENSOR_MAX_EVENTS=1 \
    "$sensors/interval_timer_sensor.py" >"$work/sensor.out" 2>"$work/sensor.err" &
sensor_pid=$!

# --- core.echo, core.noop, core.sleep ---------------------------------------------------

run "$actions/echo.sh" ATTUNE_ACTION_MESSAGE='hello world'
expect "echo prints its message" 0 "hello world" ""

run "$actions/echo.sh" ATTUNE_ACTION_MESSAGE='Hello, World' ATTUNE_ACTION_UPPERCASE=true
expect "echo upper-cases with uppercase=true" 0 "HELLO, WORLD" ""

run "$actions/echo.sh" ATTUNE_ACTION_MESSAGE=hi ATTUNE_ACTION_UPPERCASE=yes
expect "echo rejects uppercase=yes with exit 2" 2 "" \
    "echo: parameter 'uppercase' must be 'true' or 'false', got 'yes'"

run "$actions/noop.sh" ATTUNE_ACTION_MESSAGE=ignored
expect "noop exits 0 and prints nothing" 0 "" ""

run "$actions/sleep.sh" ATTUNE_ACTION_SECONDS=0.05
expect "sleep 0.05 succeeds silently" 0 "" ""

run "$actions/sleep.sh"
expect "sleep without seconds exits 2" 2 "" \
    "sleep: parameter 'seconds' is required (a number between 0 and 3600)"

run "$actions/sleep.sh" ATTUNE_ACTION_SECONDS=3601
expect "sleep rejects 3601 with exit 2" 2 "" \
    "sleep: parameter 'seconds' must be a number between 0 and 3600, got '3601'"

# --- core.http_request: invalid input ---------------------------------------------------

http=$actions/http_request.py

run "$http"
expect "http_request without url exits 2" 2 "" \
    "http_request: parameter 'url' is required (an http:// or https:// URL)"

run "$http" ATTUNE_ACTION_URL=ftp://127.0.0.1/file
expect "http_request rejects an ftp:// url with exit 2" 2 "" \
    "http_request: parameter 'url' must be an http:// or https:// URL, got 'ftp://127.0.0.1/file'"

run "$http" ATTUNE_ACTION_URL=http://127.0.0.1/ ATTUNE_ACTION_METHOD=FETCH
expect "http_request rejects method FETCH with exit 2" 2 "" \
    "http_request: parameter 'method' must be one of GET, POST, PUT, PATCH, DELETE, HEAD, got 'FETCH'"

run "$http" ATTUNE_ACTION_URL=http://127.0.0.1/ ATTUNE_ACTION_TIMEOUT=0
expect "http_request rejects timeout 0 with exit 2" 2 "" \
    "http_request: parameter 'timeout' must be a number between 1 and 300, got '0'"

run "$http" ATTUNE_ACTION_URL=http://127.0.0.1/ ATTUNE_ACTION_HEADERS='["X-A"]'
expect "http_request rejects headers that are not a JSON object with exit 2" 2 "" \
    "http_request: parameter 'headers' must be a JSON object of strings, got '[\"X-A\"]'"

# --- core.http_request against a local server --------------------------------------------

mkdir "$work/www"
printf 'hello from the smoke test\n' >"$work/www/hello.txt"
"$python" -u -m http.server 0 --bind 127.0.0.1 --directory "$work/www" >"$work/server.log" 2>&1 &
server_pid=$!
# Wait for the port, or for the server to die; no time limit of our own: a slow machine
# may take long to start it, and the suite's timeout ends a real hang.
port=
while [ -z "$port" ] && kill -0 "$server_pid" 2>/dev/null; do
    port=$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9][0-9]*\) .*/\1/p' "$work/server.log")
    [ -n "$port" ] || sleep 0.05
done
[ -n "$port" ] ||
    port=$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9][0-9]*\) .*/\1/p' "$work/server.log")
base=http://127.0.0.1:${port:-9}
if [ -n "$port" ]; then
    ok "a local HTTP server listens on 127.0.0.1"
else
    not_ok "a local HTTP server listens on 127.0.0.1" "server log: $(cat "$work/server.log")"
fi

run "$http" ATTUNE_ACTION_URL="$base/hello.txt"
expect_json "http_request GET prints status, headers, body and elapsed_ms" 0 \
    'sorted(r) == ["body", "elapsed_ms", "headers", "status"] and r["status"] == 200
and r["body"] == "hello from the smoke test\n" and r["headers"]["content-length"] == "26"
and isinstance(r["elapsed_ms"], int)'

run "$http" ATTUNE_ACTION_URL="$base/hello.txt" ATTUNE_ACTION_METHOD=HEAD
expect_json "http_request HEAD returns headers and an empty body" 0 \
    'r["status"] == 200 and r["body"] == "" and r["headers"]["content-length"] == "26"'

run "$http" ATTUNE_ACTION_URL="$base/missing" ATTUNE_ACTION_EXPECTED_STATUS=404
expect_json "http_request accepts a 404 when expected_status is 404" 0 'r["status"] == 404'

run "$http" ATTUNE_ACTION_URL="$base/missing" ATTUNE_ACTION_EXPECTED_STATUS=200
expect_json "http_request exits 1 on a 404 when expected_status is 200" 1 'r["status"] == 404' \
    "http_request: expected status 200, got 404"

run "$http" ATTUNE_ACTION_URL="$base/hello.txt" ATTUNE_ACTION_METHOD=POST ATTUNE_ACTION_BODY=x
expect_json "http_request reports the server's 501 for POST and exits 0" 0 'r["status"] == 501'

if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
fi
run "$http" ATTUNE_ACTION_URL="$base/hello.txt" ATTUNE_ACTION_TIMEOUT=5
if [ "$rc" -eq 1 ] && [ ! -s "$work/out" ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
    grep -q "^http_request: GET $base/hello.txt failed: " "$work/err"; then
    ok "http_request exits 1 with one stderr line when the server is gone"
else
    not_ok "http_request exits 1 with one stderr line when the server is gone" "$(details)"
fi

# --- core.interval_timer_sensor -----------------------------------------------------------

run "$sensors/interval_timer_sensor.py" ATTUNE_SENSOR_DELTA=0
expect "sensor rejects delta 0 with exit 2" 2 "" \
    "interval_timer_sensor: parameter 'delta' must be an integer >= 1, got '0'"

wait "$sensor_pid"
rc=$?
sensor_pid=
cp "$work/sensor.out" "$work/out"
cp "$work/sensor.err" "$work/err"
expect_json "sensor emits one core.intervaltimer event after a second and exits 0" 0 \
    'r["trigger"] == "core.intervaltimer" and r["payload"]["type"] == "interval"
and r["payload"]["interval_seconds"] == 1 and r["payload"]["execution_count"] == 1
and r["payload"]["fired_at"].endswith("Z")'

if [ "$n" -ne "$PLAN" ]; then
    echo "# planned $PLAN tests but ran $n"
    exit 1
fi
[ "$failed" -eq 0 ]
