"""`make demo`: pretrain a tiny GPT on CPU while kiseki evaluates every checkpoint it writes.

Starts the whole stack on the embedded defaults (`kiseki up`: Tansu, the services, a local
tritonserver, chDB), trains with checkpoints at the study's log-spaced steps, waits until
every checkpoint is evaluated (printing each regression the sink announces meanwhile), then
prints the per-checkpoint score table, the shapes and the significant drops, and writes one
plot per dataset under .artifacts/demo/plots.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "services"), str(REPO / "tools")]

from kiseki.cli import main as kiseki  # noqa: E402
from kiseki.core.store import open_store  # noqa: E402
from kiseki.report.plots import trajectory_plot  # noqa: E402
from kiseki.report.queries import trajectory  # noqa: E402
from kiseki.stack.progress import Announcements, checkpoint_states, describe  # noqa: E402
from kiseki.stack.stack import LocalStack, StackSettings, WatchedDir  # noqa: E402
from kiseki.stack.workdir import DEFAULT_WORKDIR  # noqa: E402
from tinygpt.corpus import demo_corpus  # noqa: E402
from tinygpt.train import TrainConfig, log_spaced_steps, train  # noqa: E402

RUN = "tiny-gpt"
# The e2e test runs a shorter demo in its own directory.
LAST_STEP = int(os.environ.get("KISEKI_DEMO_LAST_STEP", "1000"))
WORKDIR = Path(os.environ.get("KISEKI_DEMO_WORKDIR", REPO / ".artifacts" / "demo"))
# The stack keeps its state where `kiseki up` does, so every query command works afterwards
# without --store (unless the demo is told to work elsewhere).
STACK = WORKDIR / "stack" if "KISEKI_DEMO_WORKDIR" in os.environ else REPO / DEFAULT_WORKDIR
BATCH, SEQ_LEN = 16, 128
MA_WINDOW = 5
POLICY = {
    "budget": {"max_endpoints": 1},
    "runs": {
        "*": {
            "suites": ["synth_arith", "synth_nli", "synth_mc", "synth_qa"],
            "scoring_modes": ["generate", "loglikelihood"],
            "num_few_shots": 2,
        }
    },
}


async def wait_until_evaluated(stack: LocalStack, expected: int, trainer: threading.Thread) -> None:
    """Checkpoints per state as they change, and each regression the sink announces."""
    announcements = Announcements(stack.kafka, RUN)
    await announcements.start()
    shown = ""
    try:
        while True:
            stack.check()
            states = await checkpoint_states(stack.control_address, RUN)
            line = describe(states)
            lines = [f"checkpoints: {line}"] if line != shown else []
            shown = line
            for line in lines + await announcements.lines():
                print(f"  [{time.strftime('%H:%M:%S')}] {line}", flush=True)
            finished = states.get("done", 0) + states.get("failed", 0)
            if not trainer.is_alive() and finished >= expected:
                return
            await asyncio.sleep(1.0)
    finally:
        await announcements.stop()


def report(store_url: str, plots: Path) -> None:
    """What `kiseki trajectory`, `kiseki shapes` and `kiseki regressions` print, and one plot
    per category."""
    common = ["--ma", str(MA_WINDOW), "--store", store_url]
    for mode in ("generate", "loglikelihood"):
        print(f"\nper-category trajectory ({mode}, moving average of {MA_WINDOW}):")
        kiseki(["trajectory", RUN, "--wide", "--mode", mode, *common])
    for mode in ("generate", "loglikelihood"):
        print(f"\ntrajectory shapes ({mode}):")
        kiseki(
            ["shapes", RUN, "--mode", mode, "--plot", str(plots / f"shapes-{mode}.png"), *common]
        )
    print("\nsignificant drops between checkpoints (kiseki regressions):")
    kiseki(["regressions", RUN, "--store", store_url])
    store = open_store(store_url)
    try:
        rows = trajectory(store, [RUN], window=MA_WINDOW)
    finally:
        store.close()
    for category in sorted({r["category"] for r in rows}):
        members = [r for r in rows if r["category"] == category]
        path = trajectory_plot(members, plots / f"{category}.png", category, MA_WINDOW)
        print(f"plot: {path}")


def _next_commands() -> str:
    where = STACK.relative_to(REPO) if STACK.is_relative_to(REPO) else STACK
    commands = [
        "runs",
        f"trajectory {RUN} --wide --ma {MA_WINDOW}",
        f"following {RUN} --category MC --summary",
        f"regressions {RUN}",
        f"noise {RUN}",
        f"compare {RUN} --emergence --ma {MA_WINDOW}",
        f'sql "SELECT * FROM onsets(window={MA_WINDOW}, margin=0.05)"',
    ]
    lines = "\n".join(f"  tools/kiseki {command}" for command in commands)
    return f"\ntry next (they read the store the demo left in {where}):\n{lines}"


def main() -> int:
    shutil.rmtree(WORKDIR, ignore_errors=True)
    shutil.rmtree(STACK, ignore_errors=True)
    run_dir = WORKDIR / "run"
    run_dir.mkdir(parents=True)
    settings = StackSettings(
        workdir=STACK,
        runs=[WatchedDir(RUN, run_dir, BATCH * SEQ_LEN)],
        policy=POLICY,
        datasets_dir=REPO / "datasets" / "synthetic",
    )
    stack = LocalStack(settings)
    steps = log_spaced_steps(LAST_STEP)
    print(f"kiseki demo: stack up; {RUN} trains to step {LAST_STEP}, {len(steps)} checkpoints")
    started = time.monotonic()
    stack.start()
    try:
        config = TrainConfig(
            out_dir=run_dir, checkpoint_steps=steps, batch_size=BATCH, seq_len=SEQ_LEN
        )
        trainer = threading.Thread(target=train, args=(demo_corpus(), config), daemon=True)
        trainer.start()
        asyncio.run(wait_until_evaluated(stack, len(steps), trainer))
        print("the store, read live through the running sink's Query service (kiseki runs):")
        kiseki(["runs", "--store", f"grpc://{stack.query_address}"])
    finally:
        stack.stop()
    print(f"all checkpoints evaluated in {time.monotonic() - started:.0f} s; reading the store")
    report(stack.store_url, WORKDIR / "plots")
    print(_next_commands())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
