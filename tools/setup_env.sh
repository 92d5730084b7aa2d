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

# torch: a torch already in the venv is kept (install the build you want there
# first, e.g. a CUDA build from https://download.pytorch.org/whl/cuXXX). Otherwise
# torch 2.13.0 comes from pip's index (TORCH_INDEX_URL picks another one): on
# Linux x86_64, PyPI serves the CUDA build, this machine's find-links the CPU one.
torch_build() { "$PY" -c 'import torch; c = torch.version.cuda; print(torch.__version__, f"(CUDA {c} build, GPU available: {torch.cuda.is_available()})" if c else "(CPU build)")'; }
if have torch; then
  echo "[setup] torch $(torch_build) present, kept"
else
  echo "[setup] installing torch 2.13.0${TORCH_INDEX_URL:+ from $TORCH_INDEX_URL}"
  "${PIP[@]}" torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  echo "[setup] torch $(torch_build) installed"
fi

# Build tools mmcv's source build needs; setuptools must still ship pkg_resources.
if ! have pkg_resources wheel ninja psutil numpy; then
  echo "[setup] installing build tools"
  "${PIP[@]}" 'setuptools>=77,<81' wheel ninja psutil 'numpy<2'
fi

# mmcv 2.1.0 with compiled ops; where torch sees a GPU they must be CUDA ops
# (the check below fails clearly otherwise, instead of the first RoIAlign on GPU).
OPS_CHECK="$ROOT/mmdet_e3va/utils/mmcv_ops_check.py"
if have mmcv==2.1.0 && ops=$("$PY" "$OPS_CHECK" 2>/dev/null); then
  echo "${ops}, present"
else
  have mmcv && "$PY" -m pip uninstall -y -q mmcv
  if "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
    NVCC="$(command -v nvcc || echo "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc")"
    [ -x "$NVCC" ] || { echo "[setup] ERROR: torch sees a GPU but nvcc (the CUDA toolkit) is not found: put it on PATH or set CUDA_HOME, or install a prebuilt mmcv wheel matching torch and CUDA into $VENV (see docs/installation.md, GPU machines)" >&2; exit 1; }
    echo "[setup] building mmcv 2.1.0 with CUDA ops ($NVCC; FORCE_CUDA=1, not from pip's cache, which may hold a CPU-only build)"
    MMCV_WITH_OPS=1 FORCE_CUDA=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" --no-build-isolation --no-cache-dir mmcv==2.1.0
  else
    echo "[setup] building mmcv 2.1.0 with ops (about 11 minutes on 2 cores; pip caches the wheel)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" --no-build-isolation mmcv==2.1.0
  fi
  "$PY" "$OPS_CHECK"
fi

if have mmengine==0.10.7 mmdet==3.3.0 mmseg==1.2.2 ftfy regex safetensors pytest; then
  echo "[setup] mmengine/mmdet/mmseg present"
else
  echo "[setup] installing mmengine, mmdet, mmsegmentation, test tools"
  "${PIP[@]}" mmengine==0.10.7 mmdet==3.3.0 mmsegmentation==1.2.2 ftfy regex safetensors pytest \
    'numpy<2' 'opencv-python<4.12' 'setuptools>=77,<81' mmcv==2.1.0
fi

if (cd / && "$PY" -c 'import mmdet_e3va, pathlib, sys; sys.exit(pathlib.Path(mmdet_e3va.__file__).resolve().parent.parent != pathlib.Path(sys.argv[1]).resolve())' "$ROOT") >/dev/null 2>&1; then
  echo "[setup] mmdet_e3va (editable) present"
else
  echo "[setup] installing mmdet_e3va in editable mode"
  "${PIP[@]}" --no-build-isolation --no-deps -e "$ROOT"
fi
echo "[setup] done: $VENV"
