"""`make demo`: pretrain a tiny GPT of two sizes on CPU while kiseki evaluates every checkpoint.

Starts the whole stack on the embedded defaults (`kiseki up`: Tansu, the services, a local
tritonserver, chDB), trains the sizes one after the other (so consecutive checkpoints of a run
reach the endpoint together and its weights are swapped, not loaded cold) with checkpoints at
the study's log-spaced steps, on the corpus of tinygpt.corpus whose data schedule makes the
study's three shapes occur, waits until every checkpoint is evaluated (printing each
regression the sink announces meanwhile), then prints the per-checkpoint score tables, the
shapes, the significant drops and the runs compared at equal tokens, and writes one plot per
category, the shapes and the following rate under .artifacts/demo/plots.
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

from transformers.utils import logging as transformers_logging  # noqa: E402

from kiseki.cli import main as kiseki  # noqa: E402
from kiseki.core.store import open_store  # noqa: E402
from kiseki.report.plots import trajectory_plot  # noqa: E402
from kiseki.report.queries import trajectory  # noqa: E402
from kiseki.stack.progress import Announcements, checkpoint_states, describe  # noqa: E402
from kiseki.stack.stack import LocalStack, StackSettings, WatchedDir  # noqa: E402
from kiseki.stack.workdir import DEFAULT_WORKDIR  # noqa: E402
from tinygpt.corpus import demo_schedule  # noqa: E402
from tinygpt.train import TrainConfig, log_spaced_steps, train  # noqa: E402

# The two sizes, (layers, width) each; the demo's runs are named after them.
SIZES = {"tiny-gpt-2x64": (2, 64), "tiny-gpt-2x128": (2, 128)}
RUNS = list(SIZES)
# The e2e test runs a shorter demo in its own directory.
LAST_STEP = int(os.environ.get("KISEKI_DEMO_LAST_STEP", "1000"))
WORKDIR = Path(os.environ.get("KISEKI_DEMO_WORKDIR", REPO / ".artifacts" / "demo"))
# The stack keeps its state where `kiseki up` does, so every query command works afterwards
# without --store (unless the demo is told to work elsewhere).
STACK = WORKDIR / "stack" if "KISEKI_DEMO_WORKDIR" in os.environ else REPO / DEFAULT_WORKDIR
BATCH, SEQ_LEN = 16, 128
MA_WINDOW = 5
FOLLOWING = "QA"  # the category whose following rate the demo plots (the two-stage one)
# One endpoint per run: each keeps its weights warm and swaps them checkpoint by checkpoint.
POLICY = {
    "budget": {"max_endpoints": len(SIZES)},
    "runs": {
        "*": {
            "suites": ["synth_arith", "synth_nli", "synth_mc", "synth_qa", "synth_ner"],
            "scoring_modes": ["generate", "loglikelihood"],
            "num_few_shots": 2,
        }
    },
}


async def wait_until_evaluated(stack: LocalStack, expected: int, trainer: threading.Thread) -> None:
    """Checkpoints per run and state as they change, and each regression the sink announces."""
    announcements = {run: Announcements(stack.kafka, run) for run in RUNS}
    for tail in announcements.values():
        await tail.start()
    shown = ""
    try:
        while True:
            stack.check()
            states = {run: await checkpoint_states(stack.control_address, run) for run in RUNS}
            line = "; ".join(f"{run} {describe(counts)}" for run, counts in states.items())
            lines = [f"checkpoints: {line}"] if line != shown else []
            shown = line
            for run, tail in announcements.items():
                lines += [f"{run}: {announced}" for announced in await tail.lines()]
            for line in lines:
                print(f"  [{time.strftime('%H:%M:%S')}] {line}", flush=True)
            finished = sum(c.get("done", 0) + c.get("failed", 0) for c in states.values())
            if not trainer.is_alive() and finished >= expected:
                return
            await asyncio.sleep(1.0)
    finally:
        for tail in announcements.values():
            await tail.stop()


def report(store_url: str, plots: Path, tokens: int) -> None:
    """What `kiseki trajectory`, `shapes`, `regressions`, `following` and `compare` print, and
    one plot per category."""
    common = ["--ma", str(MA_WINDOW), "--store", store_url]
    for mode in ("generate", "loglikelihood"):
        print(f"\nper-category trajectory ({mode}, moving average of {MA_WINDOW}):")
        kiseki(["trajectory", *RUNS, "--wide", "--mode", mode, *common])
    for mode in ("generate", "loglikelihood"):
        print(f"\ntrajectory shapes ({mode}):")
        kiseki(
            ["shapes", *RUNS, "--mode", mode, "--plot", str(plots / f"shapes-{mode}.png"), *common]
        )
    print("\nsignificant drops between checkpoints (kiseki regressions):")
    for run in RUNS:
        kiseki(["regressions", run, "--store", store_url])
    print(f"\n{FOLLOWING}: format-following rate against the score (kiseki following):")
    plot = plots / f"following-{FOLLOWING}.png"
    options = ["--category", FOLLOWING, "--summary", "--plot", str(plot), "--store", store_url]
    kiseki(["following", *RUNS, *options])
    print(f"\nthe sizes compared at {tokens:,} tokens (kiseki compare --at-tokens):")
    kiseki(["compare", *RUNS, "--at-tokens", str(tokens), *common])
    store = open_store(store_url)
    try:
        rows = trajectory(store, RUNS, window=MA_WINDOW)
    finally:
        store.close()
    for category in sorted({r["category"] for r in rows}):
        members = [r for r in rows if r["category"] == category]
        path = trajectory_plot(members, plots / f"{category}.png", category, MA_WINDOW)
        print(f"plot: {path}")


def _next_commands() -> str:
    where = STACK.relative_to(REPO) if STACK.is_relative_to(REPO) else STACK
    runs = " ".join(RUNS)
    commands = [
        "runs",
        f"trajectory {runs} --wide --ma {MA_WINDOW}",
        f"shapes {runs} --mode generate --ma {MA_WINDOW}",
        f"following {runs} --category {FOLLOWING} --summary",
        f"regressions {RUNS[-1]}",
        f"noise {RUNS[-1]}",
        f"compare {runs} --emergence --ma {MA_WINDOW}",
        f'sql "SELECT * FROM onsets(window={MA_WINDOW}, margin=0.05)"',
    ]
    lines = "\n".join(f"  tools/kiseki {command}" for command in commands)
    return f"\ntry next (they read the store the demo left in {where}):\n{lines}"


def _train_all(run_dirs: dict[str, Path], steps: tuple[int, ...]) -> None:
    """Each size in turn, on the same data schedule."""
    schedule = demo_schedule()
    for run, (layers, width) in SIZES.items():
        config = TrainConfig(
            out_dir=run_dirs[run],
            checkpoint_steps=steps,
            batch_size=BATCH,
            seq_len=SEQ_LEN,
            layers=layers,
            width=width,
            split_words=False,
        )
        train(schedule, config)


def main() -> int:
    # The library's own switches for what the trainer here prints: a "Writing model shards"
    # bar per checkpoint and a config warning once.
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    shutil.rmtree(WORKDIR, ignore_errors=True)
    shutil.rmtree(STACK, ignore_errors=True)
    run_dirs = {run: WORKDIR / "runs" / run for run in RUNS}
    for run_dir in run_dirs.values():
        run_dir.mkdir(parents=True)
    settings = StackSettings(
        workdir=STACK,
        runs=[WatchedDir(run, run_dir, BATCH * SEQ_LEN) for run, run_dir in run_dirs.items()],
        policy=POLICY,
        datasets_dir=REPO / "datasets" / "synthetic",
    )
    stack = LocalStack(settings)
    steps = log_spaced_steps(LAST_STEP)
    print(
        f"kiseki demo: stack up; {' and '.join(RUNS)} train to step {LAST_STEP} one after the"
        f" other, {len(steps)} checkpoints each"
    )
    started = time.monotonic()
    stack.start()
    try:
        trainer = threading.Thread(target=_train_all, args=(run_dirs, steps), daemon=True)
        trainer.start()
        asyncio.run(wait_until_evaluated(stack, len(steps) * len(RUNS), trainer))
        print("the store, read live through the running sink's Query service (kiseki runs):")
        kiseki(["runs", "--store", f"grpc://{stack.query_address}"])
    finally:
        stack.stop()
    print(f"all checkpoints evaluated in {time.monotonic() - started:.0f} s; reading the store")
    report(stack.store_url, WORKDIR / "plots", LAST_STEP * BATCH * SEQ_LEN)
    print(_next_commands())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
