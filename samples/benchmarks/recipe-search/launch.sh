# Runs every config of configs.jsonl as its own process, at most $1 at a time; results to $OUT/results.jsonl.
cd "$(dirname "$0")"; par=${1:-12}
nvidia-smi --query-gpu=name --format=csv,noheader
i=0; while read -r c; do
  [ -z "$c" ] && continue
  ( python3 grid.py "$c" >> $OUT/results.jsonl 2>> $OUT/err.log ) & i=$((i+1))
  if (( i % par == 0 )); then wait -n; i=$((i-1)); fi
done < configs.jsonl; wait
python3 - <<'P'
import json,os
for l in open(os.environ['OUT']+'/results.jsonl'):
    r=json.loads(l); print(f"{r['acc']:.4f} best {r['best']:.4f} gflop {r['fwd_gflop']*1000:.1f}M {r['sec']:.0f}s {r['cfg']}")
P
