"""COMET's environment (.venv-comet, built by `tools/setup.sh --kube`) and a tiny COMET model
(tools/comet/tiny_model.py: random weights, wmt22-comet-da's class), written once per lock
and builder and cached under KISEKI_CACHE; and the package's own `predict` to compare with."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMET_TOOLS = REPO / "tools" / "comet"
COMET_PYTHON = REPO / ".venv-comet" / "bin" / "python"
INPUTS = (COMET_TOOLS / "requirements.lock", COMET_TOOLS / "tiny_model.py")
PREDICT = """
import json, sys
import comet
model = comet.load_from_checkpoint(sys.argv[1], local_files_only=True)
src, mt, ref = json.load(sys.stdin)
data = [{"src": s, "mt": m, "ref": r} for s, m, r in zip(src, mt, ref)]
print(json.dumps(model.predict(data, batch_size=8, gpus=0, progress_bar=False).scores))
"""


def comet_python() -> Path:
    """The environment's python; a clear failure, never a skip, where it was not built."""
    if not COMET_PYTHON.exists():
        raise RuntimeError(f"{COMET_PYTHON} is missing: `tools/setup.sh --kube` builds it")
    return COMET_PYTHON


def _run(command: list[str], stdin: str = "") -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, input=stdin, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[1]} failed:\n{done.stderr[-6000:]}")
    return done.stdout


def tiny_comet_model() -> Path:
    """The model's directory (hparams.yaml, checkpoints/model.ckpt, encoder/)."""
    digest = hashlib.sha256()
    for path in INPUTS:
        digest.update(path.name.encode() + path.read_bytes())
    cache = Path(os.environ.get("KISEKI_CACHE", Path.home() / ".cache" / "kiseki"))
    done = cache / "fixtures" / f"comet-{digest.hexdigest()[:16]}"
    if done.is_dir():
        return done
    partial = done.with_name(f"{done.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _run([str(comet_python()), str(COMET_TOOLS / "tiny_model.py"), str(partial), str(done)])
        partial.rename(done)
    except OSError:  # another session finished first: its copy is as good
        pass
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return done


def comet_predict(
    model: Path, sources: Sequence[str], outputs: Sequence[str], golds: Sequence[str]
) -> list[float]:
    """The scores of `unbabel-comet`'s own `model.predict`, in a process of its own."""
    checkpoint = str(model / "checkpoints" / "model.ckpt")
    stdin = json.dumps([list(sources), list(outputs), list(golds)])
    scores: list[float] = json.loads(_run([str(comet_python()), "-c", PREDICT, checkpoint], stdin))
    return scores
