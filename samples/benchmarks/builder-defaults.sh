#!/usr/bin/env bash
# The model builder's defaults against the hand-tuned quick start, on data given as class folders: for each data set,
# `beit finetune --model tiny` with no other flag, the same with `--train-time`, and (Fashion-MNIST only) `beit quickstart`,
# each followed by `beit evaluate` on the held-out images. Prints test accuracy and wall time per run.
# Usage: bash samples/benchmarks/builder-defaults.sh [output folder] [budget seconds, default 180] [extra train/test folder pairs...]
# Example: bash samples/benchmarks/builder-defaults.sh bench-builder 180 ../shared/datasets/shapes/classification/train:../shared/datasets/shapes/classification/test
set -euo pipefail
OUT=${1:-bench-builder}
BUDGET=${2:-180}
shift $(( $# > 2 ? 2 : $# ))
mkdir -p "$OUT"
dotnet publish src/Beit.Trainer -c Release -o "$OUT/app" > "$OUT/publish.log"
beit() { dotnet "$OUT/app/beit.dll" "$@"; }
flags=$( (grep -oE 'avx512_bf16|amx_bf16|avx512_vnni' /proc/cpuinfo || true) | sort -u | tr '\n' ' ')
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, flags: ${flags:-none of avx512_bf16, amx_bf16, avx512_vnni}"

timed() {  # name, model zip, test folder, then the training command
    local name=$1 zip=$2 test=$3; shift 3
    local start=$(date +%s)
    "$@" > "$OUT/$name.log" 2>&1
    local seconds=$(( $(date +%s) - start ))
    local accuracy=$(beit evaluate --model "$zip" --data "$test" | sed -n 's/^Accuracy //p')
    printf '%-28s accuracy %s  %5d s\n' "$name" "$accuracy" "$seconds"
}

# The shipped Fashion-MNIST subset as class folders (2,000 training and 500 test images).
beit fashion-mnist --output "$OUT/fashion" --train-images 2000 --test-images 500 > /dev/null
timed fashion-quickstart "$OUT/quickstart/model.zip" "$OUT/fashion/test" beit quickstart --output "$OUT/quickstart"
timed fashion-defaults "$OUT/fashion-defaults.zip" "$OUT/fashion/test" beit finetune --data "$OUT/fashion/train" --model tiny --output "$OUT/fashion-defaults.zip"
timed "fashion-train-time-$BUDGET" "$OUT/fashion-budget.zip" "$OUT/fashion/test" beit finetune --data "$OUT/fashion/train" --model tiny --train-time "$BUDGET" --output "$OUT/fashion-budget.zip"

for pair in "$@"; do
    train=${pair%%:*} test=${pair#*:} name=$(basename "$(dirname "$train")")
    timed "$name-defaults" "$OUT/$name-defaults.zip" "$test" beit finetune --data "$train" --model tiny --output "$OUT/$name-defaults.zip"
    timed "$name-train-time-$BUDGET" "$OUT/$name-budget.zip" "$test" beit finetune --data "$train" --model tiny --train-time "$BUDGET" --output "$OUT/$name-budget.zip"
done
