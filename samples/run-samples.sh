#!/usr/bin/env bash
# Builds the console samples (samples/Samples.sln) and runs each in small settings (BEIT_SAMPLES_SMALL=1).
# Prints one "sample NAME: passed|FAILED (N s)" line per sample and, last, "samples: N passed, N failed";
# exits non-zero when the build or any sample fails. Usage: bash samples/run-samples.sh [Name ...]
set -uo pipefail
cd "$(dirname "$0")/.."
export BEIT_SAMPLES_SMALL=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(Featurize Finetune Segment Pretrain OnnxExport)
mkdir -p artifacts/samples
if ! dotnet build samples/Samples.sln -nologo -v q > artifacts/samples/build.log 2>&1; then
  grep -E ' error ' artifacts/samples/build.log | sort -u | head -20
  echo "samples: 0 passed, ${#names[@]} failed (build failed, see artifacts/samples/build.log)"
  exit 1
fi
passed=0 failed=0
for name in "${names[@]}"; do
  start=$(date +%s)
  if dotnet "samples/bin/$name.dll" > "artifacts/samples/$name.log" 2>&1; then
    passed=$((passed + 1)); echo "sample $name: passed ($(( $(date +%s) - start )) s)"
  else
    failed=$((failed + 1)); echo "sample $name: FAILED ($(( $(date +%s) - start )) s); the end of its output:"
    tail -n 15 "artifacts/samples/$name.log" | sed 's/^/    /'
  fi
done
echo "samples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
