#!/bin/sh
# tap_example.greet - print "Hello, NAME!".
#
# Parameter contract: ATTUNE_ACTION_NAME, default "world" when unset or empty.
# A name longer than 64 bytes prints one line to stderr and exits 2.
set -eu

name=${ATTUNE_ACTION_NAME:-world}
if [ "${#name}" -gt 64 ]; then
    echo "greet: parameter 'name' must be at most 64 bytes, got ${#name}" >&2
    exit 2
fi
printf 'Hello, %s!\n' "$name"
