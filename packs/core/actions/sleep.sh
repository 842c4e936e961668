#!/bin/sh
# core.sleep - wait for a number of seconds, print nothing on success.
#
# Parameter contract: every action parameter is passed as an environment
# variable ATTUNE_ACTION_<NAME_UPPERCASE>:
#   ATTUNE_ACTION_SECONDS  required, decimal number from 0 to 3600; fractions
#                          are allowed (e.g. 0.05), exponents and signs are not
# Invalid input prints one line to stderr naming the parameter and exits 2.
set -eu

max=3600

invalid() {
    printf "sleep: parameter 'seconds' must be a number between 0 and %s, got '%s'\n" "$max" "$1" >&2
    exit 2
}

if [ -z "${ATTUNE_ACTION_SECONDS+set}" ]; then
    printf "sleep: parameter 'seconds' is required (a number between 0 and %s)\n" "$max" >&2
    exit 2
fi
seconds=$ATTUNE_ACTION_SECONDS

# Shape: digits, optionally one '.' followed by digits ("5", "0.05", "3600.0").
case $seconds in
    '' | *[!0-9.]* | *.*.* | .* | *.) invalid "$seconds" ;;
esac

whole=${seconds%%.*}
case $seconds in
    *.*) fraction=${seconds#*.} ;;
    *) fraction= ;;
esac

# Strip leading zeros so very long inputs cannot overflow shell arithmetic.
while :; do
    case $whole in
        0?*) whole=${whole#0} ;;
        *) break ;;
    esac
done

if [ "${#whole}" -gt "${#max}" ] || [ "$whole" -gt "$max" ]; then
    invalid "$seconds"
fi
if [ "$whole" -eq "$max" ]; then
    case $fraction in
        *[1-9]*) invalid "$seconds" ;;
    esac
fi

exec sleep "$seconds"
