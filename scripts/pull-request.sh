#!/usr/bin/env bash
# The checks of a pull request that changes specs (or the program): validate the spec folder, then
# preview what merging would change. The pull-request workflow runs this and posts the preview.
#
#   bash scripts/pull-request.sh <spec folder> [pulumi preview options, e.g. --stack dev]
#
# Exits non-zero with the problem lines when a spec is invalid; otherwise writes the preview to
# $PREVIEW_FILE (default preview.txt) and prints it. Needs `pulumi` on PATH and the stack's backend.
set -euo pipefail
specs=$(realpath -m "${1:?usage: $0 <spec folder> [pulumi preview options]}")
shift
preview=$(realpath -m "${PREVIEW_FILE:-preview.txt}")
cd "$(dirname "$0")/.."

npm run --silent validate -- "$specs"
pulumi preview --non-interactive --diff --suppress-progress "$@" >"$preview" 2>&1 || { cat "$preview"; exit 1; }
cat "$preview"
