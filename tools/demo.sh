#!/usr/bin/env bash
# The main job, no downloads: set up, generate the synthetic data set, pretrain
# the tiny Swin, train + test E3VA Cascade Mask R-CNN and E3VA UperNet on CPU.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
PY="${E3VA_VENV:-$ROOT/.venv}/bin/python"
WORK="${WORK_DIR:-work_dirs/demo}"
DET=configs/demo/cascade-mask-rcnn_swin-demo-e3va_fpn_300it_synthetic-coco.py
SEG=configs/demo/upernet_swin-demo-e3va_500it_synthetic-ade20k.py
PRETRAINED=data/pretrained/swin-demo_synthetic-pretrain.pth

"$PY" tools/generate_demo_data.py --out-dir data
if [ -f "$PRETRAINED" ]; then
  echo "[demo] pretrained tiny Swin present: $PRETRAINED"
else
  "$PY" tools/pretrain_tiny_swin.py "$DET" --out "$PRETRAINED"
fi

summary=()
for pair in "det:$DET" "seg:$SEG"; do
  name=${pair%%:*}; config=${pair#*:}
  mkdir -p "$WORK/$name"
  echo "[demo] training $config"
  "$PY" tools/train.py "$config" --work-dir "$WORK/$name" \
    > "$WORK/$name/train.log" 2>&1 \
    || { tail -40 "$WORK/$name/train.log"; exit 1; }
  grep 'Iter(train)' "$WORK/$name/train.log" | tail -1 | cut -c1-160
  ckpt=$(cat "$WORK/$name/last_checkpoint")
  echo "[demo] testing $ckpt"
  "$PY" tools/test.py "$config" "$ckpt" --work-dir "$WORK/$name/test" \
    > "$WORK/$name/test.log" 2>&1 \
    || { tail -40 "$WORK/$name/test.log"; exit 1; }
  summary+=("$name: $(grep -oE 'Iter\(test\).*' "$WORK/$name/test.log" | tail -1)")
  summary+=("  logs: $WORK/$name/  checkpoint: $ckpt")
done
echo
echo "[demo] results (synthetic data, tiny Swin, CPU):"
printf '%s\n' "${summary[@]}"
