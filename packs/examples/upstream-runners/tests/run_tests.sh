#!/bin/sh
# Shell checks of upstream_example.add (the "shell" runner in pack.yaml).
#
# Prints one coloured line per check and, as upstream Attune's test scripts do, a summary:
#   Total Tests: N / Passed: N / Failed: N
# The registry removes the ANSI colour codes and counts the cases from these lines.
# Exit status: 0 when no check failed.
set -u

add=$(cd "$(dirname "$0")/.." && pwd)/actions/add.sh
GREEN=$(printf '\033[32m')
RED=$(printf '\033[31m')
BOLD=$(printf '\033[1m')
RESET=$(printf '\033[0m')
total=0
passed=0
failed=0

# check DESCRIPTION EXPECTED ACTUAL
check() {
    total=$((total + 1))
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1))
        echo "${GREEN}✓ PASS${RESET} $1"
    else
        failed=$((failed + 1))
        echo "${RED}✗ FAIL${RESET} $1: expected '$2', got '$3'"
    fi
}

echo "${BOLD}Testing upstream_example.add${RESET}"
check "2 + 3" "5" "$(env -i ATTUNE_ACTION_A=2 ATTUNE_ACTION_B=3 "$add")"
check "-4 + 4" "0" "$(env -i ATTUNE_ACTION_A=-4 ATTUNE_ACTION_B=4 "$add")"
env -i ATTUNE_ACTION_A=two ATTUNE_ACTION_B=3 "$add" >/dev/null 2>&1
check "a non-integer exits 2" "2" "$?"
check "a missing parameter is named on stderr" "add: parameter 'b' must be an integer, got ''" \
    "$(env -i ATTUNE_ACTION_A=1 "$add" 2>&1)"

echo
echo "${BOLD}Total Tests: ${total}${RESET}"
echo "${GREEN}Passed: ${passed}${RESET}"
if [ "$failed" -gt 0 ]; then
    echo "${RED}Failed: ${failed}${RESET}"
    exit 1
fi
echo "Failed: ${failed}"
