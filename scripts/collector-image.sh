#!/usr/bin/env bash
# The collector's image FROM scratch: scripts/image.sh collector [--binary PATH] [--tag NAME:TAG].
exec "$(dirname "$0")/image.sh" collector "$@"
