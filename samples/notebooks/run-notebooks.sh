#!/usr/bin/env bash
# Runs the Polyglot notebooks headless with dotnet-repl in small settings (BEIT_NOTEBOOK_SMALL=1), against the
# library package in artifacts/packages (packed from the current build first). A cell that throws makes dotnet-repl
# exit non-zero: that notebook fails. Prints "notebook NAME: passed|FAILED (N s)" per notebook and, last,
# "notebooks: N passed, N failed"; exits non-zero on any failure.
#   bash samples/notebooks/run-notebooks.sh            executed copies go to artifacts/notebooks/
#   bash samples/notebooks/run-notebooks.sh --update   ... and replace the committed notebooks (their outputs)
#   bash samples/notebooks/run-notebooks.sh 02-finetune.ipynb ...   only these
set -uo pipefail
cd "$(dirname "$0")/../.."
update=false names=()
for arg in "$@"; do
  if [ "$arg" = --update ]; then update=true; else names+=("$arg"); fi
done
[ ${#names[@]} -eq 0 ] && names=($(cd samples/notebooks && ls *.ipynb))
export BEIT_NOTEBOOK_SMALL=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p artifacts/notebooks

# The notebooks reference Microsoft.ML.Beit 0.1.0 from artifacts/packages. Pack the library as built (Debug, by
# `dotnet test`; built here when it is not), and drop a stale copy of this same version from the NuGet cache,
# since NuGet never re-extracts a version it already holds.
if ! { dotnet build src/Microsoft.ML.Beit/Microsoft.ML.Beit.csproj -c Debug -nologo -v q &&
       dotnet pack src/Microsoft.ML.Beit/Microsoft.ML.Beit.csproj -c Debug --no-build -nologo -v q -o artifacts/packages; } > artifacts/notebooks/pack.log 2>&1; then
  tail -n 20 artifacts/notebooks/pack.log
  echo "notebooks: 0 passed, ${#names[@]} failed (packing the library failed)"
  exit 1
fi
rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/microsoft.ml.beit/0.1.0"
dotnet tool restore > /dev/null

passed=0 failed=0
for name in "${names[@]}"; do
  start=$(date +%s)
  out="$PWD/artifacts/notebooks/$name"
  if (cd samples/notebooks && dotnet dotnet-repl --run "$name" --exit-after-run --output-path "$out" > "$out.log" 2>&1) \
     && [ -f "$out" ] && ! grep -q '"output_type": "error"' "$out"; then
    passed=$((passed + 1)); echo "notebook $name: passed ($(( $(date +%s) - start )) s)"
    # The kernel prints the package folder as an absolute path: commit it relative to the repository.
    if $update; then sed "s#$PWD/##g" "$out" > "samples/notebooks/$name"; fi
  else
    failed=$((failed + 1)); echo "notebook $name: FAILED ($(( $(date +%s) - start )) s); its errors:"
    grep -o '"evalue": "[^"]*' "$out" 2>/dev/null | head -n 3 | cut -c1-600 | sed 's/^/    /'
    tail -n 5 "$out.log" | sed 's/^/    /'
  fi
done
echo "notebooks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
