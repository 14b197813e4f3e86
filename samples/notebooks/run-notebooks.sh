#!/usr/bin/env bash
# Runs the Polyglot notebooks headless with dotnet-repl in small settings (BEIT_NOTEBOOK_SMALL=1), against the
# library package in artifacts/packages (packed from the current build first). A cell that throws makes dotnet-repl
# exit non-zero: that notebook fails. Prints "notebook NAME: passed|FAILED (N s)" per notebook and, last,
# "notebooks: N passed, N failed"; exits non-zero on any failure.
#   bash samples/notebooks/run-notebooks.sh            executed copies go to artifacts/notebooks/
#   bash samples/notebooks/run-notebooks.sh --update   ... and replace the committed notebooks (their outputs)
#   bash samples/notebooks/run-notebooks.sh 02-finetune.ipynb ...   only these
# Each run writes the notebooks' temporary files under a folder of its own, removed at the end; a notebook still
# running after BEIT_NOTEBOOK_TIMEOUT seconds (default 600) is stopped and fails. The library package replaces a
# stale copy in the machine-wide NuGet cache, so runs on one machine take turns (a lock beside that cache).
set -uo pipefail
cd "$(dirname "$0")/../.."
limit=${BEIT_NOTEBOOK_TIMEOUT:-600}
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/beit-notebooks-run.XXXXXX") || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
update=false names=()
for arg in "$@"; do
  if [ "$arg" = --update ]; then update=true; else names+=("$arg"); fi
done
[ ${#names[@]} -eq 0 ] && names=($(cd samples/notebooks && ls *.ipynb))
export BEIT_NOTEBOOK_SMALL=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p artifacts/notebooks
cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
mkdir -p "$cache"
exec 9> "$cache/.beit-notebooks.lock"
if ! flock -n 9; then
  echo "another notebook run on this machine holds $cache/.beit-notebooks.lock; waiting for it"
  flock 9
fi

# The notebooks reference Microsoft.ML.Beit 0.1.0 from artifacts/packages. Pack the library as built (Debug, by
# `dotnet test`; built here when it is not), and drop a stale copy of this same version from the NuGet cache,
# since NuGet never re-extracts a version it already holds.
if ! { dotnet build src/Microsoft.ML.Beit/Microsoft.ML.Beit.csproj -c Debug -nologo -v q &&
       dotnet pack src/Microsoft.ML.Beit/Microsoft.ML.Beit.csproj -c Debug --no-build -nologo -v q -o artifacts/packages; } > artifacts/notebooks/pack.log 2>&1; then
  tail -n 20 artifacts/notebooks/pack.log
  echo "notebooks: 0 passed, ${#names[@]} failed (packing the library failed)"
  exit 1
fi
rm -rf "$cache/microsoft.ml.beit/0.1.0"
dotnet tool restore > /dev/null

passed=0 failed=0
for name in "${names[@]}"; do
  start=$(date +%s)
  out="$PWD/artifacts/notebooks/$name"
  (cd samples/notebooks && timeout --kill-after=10 "$limit" dotnet dotnet-repl --run "$name" --exit-after-run --output-path "$out" > "$out.log" 2>&1)
  code=$?
  if [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
    failed=$((failed + 1)); echo "notebook $name: FAILED (still running after $limit s, stopped: a hang? BEIT_NOTEBOOK_TIMEOUT sets the limit)"
    tail -n 5 "$out.log" | sed 's/^/    /'
  elif [ "$code" -eq 0 ] && [ -f "$out" ] && ! grep -q '"output_type": "error"' "$out"; then
    # Outputs name folders of this machine (the repository, this run's temporary folder, the NuGet cache, the home
    # folder, the system libstdc++): the saved copy names the repository's files relative to it and the others by
    # placeholders, and a path left over fails the notebook (samples/notebooks/machine-paths.txt; NotebookTests checks
    # the committed notebooks the same way).
    sed -e "s#$PWD/##g" -e "s#$TMPDIR/#<temp>/#g" -e "s#$cache/#<nuget-packages>/#g" -e "s#$HOME/#<home>/#g" \
        -E -e 's#/(usr/)?lib(64)?/([A-Za-z0-9_-]+/)?libstdc\+\+#libstdc++#g' "$out" > "$out.saved"
    if leftover=$(sed -E 's#data:[^"]*##g' "$out.saved" | grep -oEf samples/notebooks/machine-paths.txt | sort -u | head -n 3) && [ -n "$leftover" ]; then
      failed=$((failed + 1)); echo "notebook $name: FAILED (its outputs name folders of this machine:"; sed 's/^/    /' <<<"$leftover"; echo "  )"
      continue
    fi
    passed=$((passed + 1)); echo "notebook $name: passed ($(( $(date +%s) - start )) s)"
    if $update; then cp "$out.saved" "samples/notebooks/$name"; fi
  else
    failed=$((failed + 1)); echo "notebook $name: FAILED ($(( $(date +%s) - start )) s); its errors:"
    grep -o '"evalue": "[^"]*' "$out" 2>/dev/null | head -n 3 | cut -c1-600 | sed 's/^/    /'
    tail -n 5 "$out.log" | sed 's/^/    /'
  fi
done
echo "notebooks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
