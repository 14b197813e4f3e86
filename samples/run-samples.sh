#!/usr/bin/env bash
# Builds the console samples (samples/Samples.sln) and runs each in small settings (BEIT_SAMPLES_SMALL=1).
# Prints one "sample NAME: passed|FAILED (N s)" line per sample and, last, "samples: N passed, N failed";
# exits non-zero when the build or any sample fails. Usage: bash samples/run-samples.sh [Name ...]
# Each run writes its temporary files (the samples' outputs) under a folder of its own, removed at the end, so two runs
# on one machine do not collide; a sample still running after BEIT_SAMPLE_TIMEOUT seconds (default 600) is stopped
# and fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export BEIT_SAMPLES_SMALL=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
limit=${BEIT_SAMPLE_TIMEOUT:-600}
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/beit-samples-run.XXXXXX") || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(Featurize Finetune Segment Pretrain OnnxExport ScaleOut)
mkdir -p artifacts/samples
if ! dotnet build samples/Samples.sln -nologo -v q > artifacts/samples/build.log 2>&1; then
  grep -E ' error ' artifacts/samples/build.log | sort -u | head -20
  echo "samples: 0 passed, ${#names[@]} failed (build failed, see artifacts/samples/build.log)"
  exit 1
fi
passed=0 failed=0
for name in "${names[@]}"; do
  start=$(date +%s)
  timeout --kill-after=10 "$limit" dotnet "samples/bin/$name.dll" > "artifacts/samples/$name.log" 2>&1
  code=$?
  if [ "$code" -eq 0 ]; then
    passed=$((passed + 1)); echo "sample $name: passed ($(( $(date +%s) - start )) s)"
  elif [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
    failed=$((failed + 1)); echo "sample $name: FAILED (still running after $limit s, stopped: a hang? BEIT_SAMPLE_TIMEOUT sets the limit); the end of its output:"
    tail -n 15 "artifacts/samples/$name.log" | sed 's/^/    /'
  else
    failed=$((failed + 1)); echo "sample $name: FAILED (exit code $code, $(( $(date +%s) - start )) s); the end of its output:"
    tail -n 15 "artifacts/samples/$name.log" | sed 's/^/    /'
  fi
done
echo "samples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
