#!/usr/bin/env bash
# The fine-tuning issue's full-data benchmark: a small BEiT (4x4 patches, 64 wide, 4 blocks) trained from scratch on the
# 60,000 Fashion-MNIST training images (54,000 train / 6,000 validation), tested on the 10,000 test images.
# Usage: bash samples/benchmarks/fashion-full.sh [fashion-mnist IDX folder] [output folder]
set -euo pipefail
DATA=${1:-../shared/datasets/fashion-mnist}
OUT=${2:-bench-fashion-full}
mkdir -p "$OUT"
dotnet publish src/Beit.Trainer -c Release -o "$OUT/app" > "$OUT/publish.log"
cat > "$OUT/model.json" <<'JSON'
{"model_type": "beit", "image_size": 28, "patch_size": 4, "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
 "intermediate_size": 128, "use_relative_position_bias": true, "layer_norm_eps": 1e-6, "layer_scale_init_value": 0}
JSON
start=$(date +%s)
dotnet "$OUT/app/beit.dll" quickstart --data "$DATA" --output "$OUT" --train-images 60000 --test-images 10000 \
    --model-config "$OUT/model.json" --augment --epochs 20 --batch-size 128 --lr 3e-3 --weight-decay 0.05 2> "$OUT/progress.log"
echo "wall time $(( $(date +%s) - start )) s (including writing 70,000 PNGs on the first run)"
