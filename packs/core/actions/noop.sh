#!/bin/sh
# core.noop - do nothing, print nothing, exit 0.
#
# Parameter contract: action parameters are passed as environment variables
# ATTUNE_ACTION_<NAME_UPPERCASE>. This action declares no parameters and
# ignores any ATTUNE_ACTION_* variables it is given.
set -eu

exit 0
