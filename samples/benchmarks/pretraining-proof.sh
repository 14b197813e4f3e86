#!/usr/bin/env bash
# Does masked image modeling help when labels are scarce? A proof on Fashion-MNIST (docs/pretraining.md)
#   1. train a dVAE tokenizer on the 60,000 training images (no labels)
#   2. pretrain a small BEiT (4x4 patches, 64 wide, 4 blocks) by masked image modeling on the same images
#   3. fine-tune on 600 labelled images (60 per class) from the pretrained backbone and from random initialisation,
#      with the same recipe and seeds 1, 2, 3; evaluate each on the 10,000 test images
# Usage: bash samples/benchmarks/pretraining-proof.sh [fashion-mnist IDX folder] [output folder]
set -euo pipefail
DATA=${1:-../shared/datasets/fashion-mnist}
OUT=${2:-bench-pretraining}
PRETRAIN_EPOCHS=${PRETRAIN_EPOCHS:-8}
mkdir -p "$OUT"
dotnet publish src/Beit.Trainer -c Release -o "$OUT/app" > "$OUT/publish.log"
beit() { dotnet "$OUT/app/beit.dll" "$@"; }
cat > "$OUT/model.json" <<'JSON'
{"image_size": 28, "patch_size": 4, "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
 "intermediate_size": 128, "layer_norm_eps": 1e-6}
JSON
start=$(date +%s)
beit fashion-mnist --data "$DATA" --output "$OUT/images" --per-class 60
beit tokenizer train --data "$OUT/images/train" --input-size 28 --downsampling 4 --vocabulary-size 256 --hidden-channels 16 --epochs 2 --batch-size 64 \
    --output "$OUT/tokenizer.safetensors"
echo "tokenizer done after $(( $(date +%s) - start )) s"
beit pretrain --data "$OUT/images/train" --tokenizer "$OUT/tokenizer.safetensors" --model "$OUT/model.json" --epochs "$PRETRAIN_EPOCHS" \
    --batch-size 128 --learning-rate 1.5e-3 --warmup-epochs 1 --output "$OUT/backbone.zip" 2> "$OUT/pretrain.progress"
echo "pretraining done after $(( $(date +%s) - start )) s"
for seed in 1 2 3; do
  for start_from in pretrained scratch; do
    model=$([ "$start_from" = pretrained ] && echo "$OUT/backbone.zip" || echo "$OUT/model.json")
    beit finetune --data "$OUT/images/few" --model "$model" --epochs 50 --batch-size 32 --learning-rate 1e-3 --layer-decay 0.75 --warmup-epochs 5 \
        --seed "$seed" --output "$OUT/$start_from-$seed.zip" > /dev/null 2>&1
    accuracy=$(beit evaluate --model "$OUT/$start_from-$seed.zip" --data "$OUT/images/test" | grep '^Accuracy' | cut -d' ' -f2)
    echo "$start_from seed $seed test accuracy $accuracy" | tee -a "$OUT/results.txt"
  done
done
echo "total $(( $(date +%s) - start )) s"
