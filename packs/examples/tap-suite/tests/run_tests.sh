#!/bin/sh
# TAP tests of tap_example.greet. Prints a plan, then one `ok`/`not ok` line per case;
# a case that does not apply here is reported as `ok N - ... # SKIP reason`.
# Exit status: 0 when nothing failed.
set -u

greet=$(cd "$(dirname "$0")/.." && pwd)/actions/greet.sh
n=0
failed=0

# check DESCRIPTION EXPECTED ACTUAL
check() {
    n=$((n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $n - $1"
    else
        failed=$((failed + 1))
        echo "not ok $n - $1"
        echo "#   expected: '$2'"
        echo "#   got:      '$3'"
    fi
}

echo "1..6"

check "greets by name" "Hello, Ada!" "$(env -i ATTUNE_ACTION_NAME=Ada "$greet")"
check "greets the world by default" "Hello, world!" "$(env -i "$greet")"
check "keeps spaces and non-ASCII letters" "Hello, Grace  Hopper ✓!" \
    "$(env -i ATTUNE_ACTION_NAME='Grace  Hopper ✓' "$greet")"

long=$(printf '%065d' 0)
env -i ATTUNE_ACTION_NAME="$long" "$greet" >/dev/null 2>&1
check "a 65-byte name exits 2" "2" "$?"
check "the error names the parameter on stderr, stdout stays empty" \
    "greet: parameter 'name' must be at most 64 bytes, got 65|" \
    "$(env -i ATTUNE_ACTION_NAME="$long" "$greet" 2>&1 >/dev/null)|$(env -i ATTUNE_ACTION_NAME="$long" "$greet" 2>/dev/null)"

n=$((n + 1))
echo "ok $n - greets in the reader's language # SKIP translations are not part of this example"

[ "$failed" -eq 0 ]
