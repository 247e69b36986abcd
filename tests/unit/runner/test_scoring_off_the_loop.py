"""Generated samples are scored off the event loop: a chunk of code_exec programs (or of COMET
batches) that takes long must not stop the loop, which keeps the consumer's heartbeat."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

from kiseki.evaluation.metrics.code_exec import install_code_runner
from kiseki.runner.evaluate import TaskCache, score_job
from kiseki.v1 import events_pb2 as ev
from support.endpoint import RecordedEndpoint

DATASETS = Path(__file__).resolve().parents[2] / "fixtures" / "mbpp_tiny"


class HeldRunner:
    """Passes every program once the event loop released it; fails if it never does."""

    def __init__(self) -> None:
        self.started, self.released = threading.Event(), threading.Event()

    def run(self, programs: Sequence[str]) -> list[bool]:
        self.started.set()
        released = self.released.wait(timeout=5)
        return [released for _ in programs]


async def test_the_loop_runs_while_a_part_is_being_scored() -> None:
    runner = HeldRunner()
    install_code_runner(runner)
    client = RecordedEndpoint(lambda prompt: "pass")
    job = ev.EvaluationJob(
        job_id="cg",
        checkpoint_id="ck",
        endpoint="127.0.0.1:1",
        model_name="recorded",
        dataset="mbpp_tiny",
        shard_count=1,
        scoring_mode=ev.SCORING_MODE_GENERATE,
        num_few_shots=1,
    )

    async def release() -> None:
        await asyncio.to_thread(runner.started.wait, 5)
        runner.released.set()  # only reached if the loop is free while scoring runs

    try:
        results, _ = await asyncio.gather(score_job(job, client, TaskCache(DATASETS)), release())
    finally:
        install_code_runner(None)
        await client.close()
    assert [s.metrics["code_exec"] for s in results.samples] == [1.0] * 4
