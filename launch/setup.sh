#!/usr/bin/env bash
# Sets up a fresh checkout: a virtualenv in .venv with the pinned requirements, and
# Fashion-MNIST in data/fashion_mnist and Shakespeare in data/shakespeare. Safe to run again; it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
.venv/bin/python -m launch.fetch_data --dest=data/fashion_mnist
.venv/bin/python -m launch.fetch_data --dataset=shakespeare
