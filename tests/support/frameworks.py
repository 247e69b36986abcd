"""The frameworks' own checkpoints (tools/frameworks/write_fixtures.py in .venv-frameworks),
written once per version of the writers and cached under KISEKI_CACHE, so CI on a fresh clone
of the same machine does not pay the ~2 minutes again."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WRITERS = REPO / "tools" / "frameworks"
FRAMEWORKS_PYTHON = REPO / ".venv-frameworks" / "bin" / "python"
# What each group of fixtures depends on: its writers, their lock and the tiny models' builders.
_MEGATRON = ("deepspeed_fixture.py", "megatron_fixture.py", "write_fixtures.py")
WRITER_FILES = {
    "tensor": _MEGATRON,
    "pipeline": _MEGATRON,
    "nemo2": ("megatron_fixture.py", "nemo2_fixture.py", "write_fixtures.py"),
    "bench": ("megatron_fixture.py", "megatron_bench_fixture.py", "write_fixtures.py"),
}
# One gloo process each; torchrun sets up its rendezvous.
_TORCHRUN_SCRIPTS = {"nemo2": "nemo2_fixture.py", "bench": "megatron_bench_fixture.py"}
SHARED_INPUTS = (WRITERS / "requirements.lock", REPO / "tools" / "tinygpt" / "model.py")


def _key(group: str) -> str:
    digest = hashlib.sha256(group.encode())
    for path in (*(WRITERS / name for name in WRITER_FILES[group]), *SHARED_INPUTS):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _command(group: str, out: Path) -> list[str]:
    if group in _TORCHRUN_SCRIPTS:
        torchrun = str(FRAMEWORKS_PYTHON.parent / "torchrun")
        script = str(WRITERS / _TORCHRUN_SCRIPTS[group])
        return [torchrun, "--nproc-per-node=1", "--master-port=29519", script, str(out)]
    script = str(WRITERS / "write_fixtures.py")
    return [str(FRAMEWORKS_PYTHON), script, str(out), "--group", group]


def framework_fixtures(group: str = "tensor") -> Path:
    """The fixtures' directory of one group (`tensor`: TP 1 and 2 and DeepSpeed; `pipeline`:
    two pipeline stages; `nemo2`: NeMo 2 checkpoints; `bench`: a ~0.4 GB one for
    tools/bench/conversion.py); written into a temporary sibling and renamed when whole."""
    cache = Path(os.environ.get("KISEKI_CACHE", Path.home() / ".cache" / "kiseki"))
    name = "frameworks" if group == "tensor" else f"frameworks-{group}"
    done = cache / "fixtures" / f"{name}-{_key(group)}"
    if done.is_dir():
        return done
    if not FRAMEWORKS_PYTHON.exists():
        raise RuntimeError(f"{FRAMEWORKS_PYTHON} is missing: `make setup` builds it (Python 3.12)")
    partial = done.with_name(f"{done.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(REPO / "tools"), "OMP_NUM_THREADS": "1"}
    command = _command(group, partial)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-6000:]}")
    try:
        partial.rename(done)
    except OSError:  # another session finished first: its copy is as good
        shutil.rmtree(partial, ignore_errors=True)
    return done
