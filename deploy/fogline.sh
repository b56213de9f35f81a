#!/bin/sh
# The fogline command of this install (/opt/fogline/bin/fogline); NODE overrides which node runs it.
exec "${NODE:-node}" "$(dirname "$(readlink -f "$0")")/../node_modules/@fogline/cli/dist/bin.js" "$@"
