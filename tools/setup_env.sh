#!/usr/bin/env bash
# Set up an isolated environment for mmmtl on a fresh machine (idempotent).
#
#   bash tools/setup_env.sh            # creates .venv (or $MMMTL_VENV)
#
# Steps: create a venv; install a CPU torch unless a torch is already there
# (never a multi-GB CUDA build on a machine without a GPU); build mmcv 2.1.0
# with its ops from source (pip's wheel cache makes a rebuild instant);
# install mmengine / mmdet / mmsegmentation / the test tools (with tensorboard,
# onnx and onnxruntime) and mmmtl itself.
# A second run only checks and takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMMTL_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
STAMP="$VENV/.mmmtl-setup-done"

say() { printf '[setup] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment at $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check)

# Fast path: everything installed from the same requirement files already.
req_hash() { cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" | sha256sum | cut -d' ' -f1; }
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(req_hash)" ] \
   && "$VPY" -c "import torch, mmcv.ops, mmdet, mmseg, mmmtl" 2>/dev/null; then
  say "environment is up to date ($VENV)"
  exit 0
fi

"${PIP[@]}" install -q -r "$ROOT/requirements/build.txt"

# 1. torch: keep one that is there; otherwise a CPU build where there is no GPU.
if "$VPY" -c "import torch" 2>/dev/null; then
  say "torch $("$VPY" -c 'import torch; print(torch.__version__)') already installed"
else
  TORCH_SPEC="${MMMTL_TORCH:-torch==2.13.0}"
  if command -v nvidia-smi >/dev/null 2>&1; then
    say "GPU found: installing $TORCH_SPEC"
    "${PIP[@]}" install -q "$TORCH_SPEC"
  else
    # Ask pip which file it would take, without downloading it.
    picked=$("${PIP[@]}" install --dry-run --quiet --no-deps --report - "$TORCH_SPEC" 2>/dev/null \
             | "$VPY" -c "import json,sys; r=json.load(sys.stdin); print(r['install'][0]['download_info']['url'] if r['install'] else '')" || true)
    if [[ "$picked" == *"%2Bcpu"* || "$picked" == *"+cpu"* ]]; then
      say "no GPU: installing the CPU build $TORCH_SPEC"
      "${PIP[@]}" install -q "$TORCH_SPEC"
    elif [ -n "${TORCH_CPU_INDEX_URL:-}" ]; then
      say "no GPU: installing $TORCH_SPEC from \$TORCH_CPU_INDEX_URL"
      "${PIP[@]}" install -q "$TORCH_SPEC" --index-url "$TORCH_CPU_INDEX_URL"
    else
      echo "[setup] ERROR: no GPU here and pip would install '${picked:-?}', which is not a CPU build" >&2
      echo "[setup]        of $TORCH_SPEC (a CUDA build is several GB). Install a CPU torch first, or set" >&2
      echo "[setup]        TORCH_CPU_INDEX_URL to PyTorch's CPU wheel index and run this again." >&2
      exit 1
    fi
  fi
fi

# 2. mmcv 2.1.0 with ops, built against that torch (no build isolation).
if "$VPY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  say "mmcv 2.1.0 with ops already installed"
else
  say "building mmcv 2.1.0 with ops from source (about 9 minutes on 2 cores the first time)"
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    "${PIP[@]}" install --no-build-isolation mmcv==2.1.0
fi

# 3. The rest, the test tools and mmmtl itself (editable).
say "installing mmengine, mmdet, mmsegmentation, test tools, tensorboard, onnx and mmmtl"
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
  -r "$ROOT/requirements/tensorboard.txt" -r "$ROOT/requirements/onnx.txt" \
  -r "$ROOT/requirements/build.txt"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e "$ROOT"

"$VPY" -c "import torch, mmcv.ops, mmdet, mmseg, mmmtl; print('[setup] ok: torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmdet', mmdet.__version__, '| mmseg', mmseg.__version__)"
req_hash > "$STAMP"
