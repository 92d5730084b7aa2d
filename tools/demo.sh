#!/usr/bin/env bash
# The main job, no downloads: set up, generate the synthetic data set, pretrain
# the tiny Swin, train + test E3VA Cascade Mask R-CNN and E3VA UperNet on CPU,
# and paint the predictions of a few val images next to their ground truth.
# The terminal shows progress (iteration, loss, ETA every logged iteration);
# the full logs go to $WORK_DIR/{det,seg}/{train,test}.log.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
PY="${E3VA_VENV:-$ROOT/.venv}/bin/python"
WORK="${WORK_DIR:-work_dirs/demo}"
NUM_PICTURES="${NUM_PICTURES:-4}"  # val images painted per task
DET=configs/demo/cascade-mask-rcnn_swin-demo-e3va_fpn_300it_synthetic-coco.py
SEG=configs/demo/upernet_swin-demo-e3va_500it_synthetic-ade20k.py
PRETRAINED=data/pretrained/swin-demo_synthetic-pretrain.pth

# run NAME LOG TOOL ARGS...: full log to LOG, progress lines to the terminal.
run() {
  local name=$1 log=$2; shift 2
  "$PY" "$@" 2>&1 | tee "$log" | "$PY" tools/log_progress.py "[demo] $name" \
    || { echo "[demo] $* failed; the end of $log:"; tail -40 "$log"; exit 1; }
}

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
  out="$(cd "$WORK/$name" && pwd)"
  echo "[demo] training $config (full log: $out/train.log)"
  run "$name" "$out/train.log" tools/train.py "$config" --work-dir "$out"
  ckpt=$(cat "$out/last_checkpoint")
  echo "[demo] testing $ckpt (full log: $out/test.log)"
  run "$name" "$out/test.log" tools/test.py "$config" "$ckpt" --work-dir "$out/test"
  echo "[demo] painting the predictions of the first $NUM_PICTURES val images"
  rm -rf "$out/pictures"
  "$PY" tools/test.py "$config" "$ckpt" --work-dir "$out/pictures_run" \
    --show-dir "$out/pictures" --cfg-options \
    "test_dataloader.dataset.indices=$NUM_PICTURES" default_hooks.visualization.interval=1 \
    > "$out/pictures.log" 2>&1 || { tail -40 "$out/pictures.log"; exit 1; }
  summary+=("$name: $(grep -oE 'Iter\(test\).*' "$out/test.log" | tail -1)")
  summary+=("  logs: $out/  checkpoint: $ckpt")
  summary+=("  pictures (ground truth left, prediction right): $(dirname "$(find "$out/pictures" -type f \( -name '*.jpg' -o -name '*.png' \) | sort | head -1)")/")
done
echo
echo "[demo] results (synthetic data, tiny Swin, CPU):"
printf '%s\n' "${summary[@]}"
