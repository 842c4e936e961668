#!/bin/sh
# core.echo - print a message to stdout followed by a newline.
#
# Parameter contract: every action parameter is passed as an environment
# variable ATTUNE_ACTION_<NAME_UPPERCASE>:
#   ATTUNE_ACTION_MESSAGE    string, default "" - the text to print, verbatim
#   ATTUNE_ACTION_UPPERCASE  "true" or "false", default "false" - upper-case
#                            ASCII letters (a-z) before printing
# Invalid input prints one line to stderr naming the parameter and exits 2.
set -eu

message=${ATTUNE_ACTION_MESSAGE-}
uppercase=${ATTUNE_ACTION_UPPERCASE:-false}

case $uppercase in
    true)
        # Pipe instead of command substitution so trailing newlines survive.
        printf '%s\n' "$message" | LC_ALL=C tr 'abcdefghijklmnopqrstuvwxyz' 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
        ;;
    false)
        printf '%s\n' "$message"
        ;;
    *)
        printf "echo: parameter 'uppercase' must be 'true' or 'false', got '%s'\n" "$uppercase" >&2
        exit 2
        ;;
esac
