#!/bin/sh
# upstream_example.add - print a + b.
#
# Parameter contract: ATTUNE_ACTION_A and ATTUNE_ACTION_B, required decimal integers
# (optional leading '-', at most 15 digits so the sum fits shell arithmetic; leading
# zeros are decimal, not octal). Invalid input prints one line to stderr naming the
# parameter and exits 2.
set -eu

# normalize NAME VALUE: print VALUE without leading zeros, or fail naming NAME
normalize() {
    sign=
    digits=$2
    case $digits in -*) sign=-; digits=${digits#-} ;; esac
    case $digits in
        '' | *[!0-9]*)
            echo "add: parameter '$1' must be an integer, got '$2'" >&2
            exit 2
            ;;
    esac
    while :; do
        case $digits in
            0?*) digits=${digits#0} ;;
            *) break ;;
        esac
    done
    if [ "${#digits}" -gt 15 ]; then
        echo "add: parameter '$1' must have at most 15 digits, got '$2'" >&2
        exit 2
    fi
    printf '%s%s\n' "$sign" "$digits"
}

a=$(normalize a "${ATTUNE_ACTION_A-}")
b=$(normalize b "${ATTUNE_ACTION_B-}")
echo $((a + b))
