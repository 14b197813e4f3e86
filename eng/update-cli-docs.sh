#!/usr/bin/env bash
# Regenerates docs/cli.md from the tool's own --help output (run after adding, renaming or describing a flag).
# The hand-written introduction above the page's marker line is kept; CliReferenceTests fails while the page is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
BEIT_UPDATE_CLI_DOCS=1 dotnet test test/Microsoft.ML.Beit.Tests --filter "FullyQualifiedName~CliReferenceTests" "$@"
