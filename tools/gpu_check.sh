#!/usr/bin/env bash
# The GPU path's figures as JSON (issue 13): TAESD decode ms at 256/512/768 on the TensorRT and
# CUDA providers of onnxruntime (and the CPU), LCM 1/2/4-step ms per frame at 512 with a UNet
# of Stable Diffusion 1.5's configuration (random weights), the whole loop headless per backend.
#
#   tools/gpu_check.sh [--out FILE.json] [--taesd DIR] [--lcm-model DIR]    on a fresh CUDA machine
#   tools/gpu_check.sh --smoke                                              the CPU fallback (tests)
#
# On a fresh machine it makes .venv-gpu (Python 3.10+) with the CUDA build of torch==2.13.0 (the
# PyPI wheel for Linux x86-64 is the CUDA one), onnxruntime-gpu (CUDA 12, with the TensorRT
# provider when the TensorRT libraries are importable) and this package; about 10 minutes, only
# PyPI needed. With --smoke (or no NVIDIA GPU) it uses the current python as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=""; ARGS=(); SMOKE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --smoke) SMOKE=1; ARGS+=(--smoke); shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
PY="${PYTHON:-python3}"
if [ "$SMOKE" = 0 ] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  if [ ! -x .venv-gpu/bin/python ]; then
    "$PY" -m venv .venv-gpu
    .venv-gpu/bin/python -m pip install -q --upgrade pip
    .venv-gpu/bin/python -m pip install -q "torch==2.13.0" onnxruntime-gpu "diffusers>=0.30" safetensors \
      tensorrt-cu12 tensorrt-cu12-libs || .venv-gpu/bin/python -m pip install -q "torch==2.13.0" onnxruntime-gpu \
      "diffusers>=0.30" safetensors
    .venv-gpu/bin/python -m pip install -q -e . >/dev/null
  fi
  PY=.venv-gpu/bin/python
  # TensorRT's and cuDNN's libraries from their wheels, for onnxruntime's providers
  SITE=$("$PY" -c 'import site; print(site.getsitepackages()[0])')
  export LD_LIBRARY_PATH="$(ls -d "$SITE"/tensorrt_libs "$SITE"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
  echo "gpu_check: $(nvidia-smi -L | head -1)" >&2
else
  echo "gpu_check: no NVIDIA GPU (or --smoke): the CPU fallback with $PY" >&2
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "$OUT" ]; then
  "$PY" -m live bench gpu "${ARGS[@]}" | tee "$OUT"
else
  "$PY" -m live bench gpu "${ARGS[@]}"
fi
