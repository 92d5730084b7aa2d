#!/usr/bin/env bash
# Idempotent set-up: a project venv (.venv, or $E3VA_VENV) with torch, mmcv (full ops),
# mmengine, mmdet, mmsegmentation, test tools and this package in editable mode.
# A second run skips every step whose result is already importable.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${E3VA_VENV:-$ROOT/.venv}"
PY_BOOT="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating venv $VENV"
  "$PY_BOOT" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

have() { "$PY" - "$@" <<'PYEOF' >/dev/null 2>&1
import importlib, sys
for spec in sys.argv[1:]:
    name, _, version = spec.partition('==')
    mod = importlib.import_module(name)
    if version and getattr(mod, '__version__', '').split('+')[0] != version:
        sys.exit(1)
PYEOF
}

if have torch; then
  echo "[setup] torch $("$PY" -c 'import torch; print(torch.__version__)') present, kept"
else
  echo "[setup] installing torch 2.13.0"
  "${PIP[@]}" torch==2.13.0
fi

# Build tools mmcv's source build needs; setuptools must still ship pkg_resources.
if ! have pkg_resources wheel ninja psutil numpy; then
  echo "[setup] installing build tools"
  "${PIP[@]}" 'setuptools>=77,<81' wheel ninja psutil 'numpy<2'
fi

if "$PY" -c 'import mmcv, mmcv.ops; assert mmcv.__version__ == "2.1.0"; from mmcv.ops import RoIAlign, nms' >/dev/null 2>&1; then
  echo "[setup] mmcv 2.1.0 with ops present"
else
  echo "[setup] building mmcv 2.1.0 with ops (about 11 minutes on 2 cores; pip caches the wheel)"
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" --no-build-isolation mmcv==2.1.0
  "$PY" -c 'from mmcv.ops import RoIAlign, nms' \
    || { echo "[setup] mmcv was built without ops" >&2; exit 1; }
fi

if have mmengine==0.10.7 mmdet==3.3.0 mmseg==1.2.2 ftfy regex pytest; then
  echo "[setup] mmengine/mmdet/mmseg present"
else
  echo "[setup] installing mmengine, mmdet, mmsegmentation, test tools"
  "${PIP[@]}" mmengine==0.10.7 mmdet==3.3.0 mmsegmentation==1.2.2 ftfy regex pytest \
    'numpy<2' 'opencv-python<4.12' 'setuptools>=77,<81' mmcv==2.1.0
fi

if (cd / && "$PY" -c 'import mmdet_e3va, pathlib, sys; sys.exit(pathlib.Path(mmdet_e3va.__file__).resolve().parent.parent != pathlib.Path(sys.argv[1]).resolve())' "$ROOT") >/dev/null 2>&1; then
  echo "[setup] mmdet_e3va (editable) present"
else
  echo "[setup] installing mmdet_e3va in editable mode"
  "${PIP[@]}" --no-build-isolation --no-deps -e "$ROOT"
fi
echo "[setup] done: $VENV"
