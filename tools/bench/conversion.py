"""The conversion stage: throughput, and conversion overlapping the previous evaluation.

`throughput`: GB/s of checkpoint read by kiseki's conversion (`kiseki.conversion.registry`,
in this process: the interpreter's start left out) of a ~0.4 GB Megatron-Core torch_dist
checkpoint (tools/frameworks/megatron_bench_fixture.py, written once by megatron-core and
cached), against torch's own `dcp_to_torch_save` of the same files as the baseline, in
alternating paired rounds (the page cache warm for both: this is the conversion's cost, not
the disk's). `fixtures`: each framework fixture converted once as the orchestrator does it, a
`python -m kiseki.conversion` process (DeepSpeed's in the frameworks' venv): tiny, so mostly
the interpreter's start.

`first_score`: three checkpoints of a Megatron run (the big one hard-linked as iter 10, 20,
30) discovered at once, through the real orchestrator (process converter, a real tritonserver,
one endpoint) and a real task-runner on a Tansu broker; the seconds from discovery to each
checkpoint's first score, with `KISEKI_CONVERSION_AHEAD=1` (conversion overlapping the
previous checkpoint's evaluation) and 0 (converted only once the endpoint is free), in
alternating paired rounds. `ratio`: the median of each round's mean without ÷ mean with.
Prints one JSON object; ~5 min of CPU, about 25 min of wall time on a shared 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services"), str(REPO / "tools"), str(REPO / "tests")]
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "services"), os.environ.get("PYTHONPATH", "")]
)

from torch.distributed.checkpoint.format_utils import dcp_to_torch_save  # noqa: E402

from kiseki.conversion.registry import convert  # noqa: E402
from kiseki.core.health import Health  # noqa: E402
from kiseki.core.kafka import ProtoProducer  # noqa: E402
from kiseki.core.kafka_config import KafkaConfig  # noqa: E402
from kiseki.core.service import ServiceContext  # noqa: E402
from kiseki.local.brokers import start_tansu  # noqa: E402
from kiseki.orchestrator.config import OrchestratorConfig  # noqa: E402
from kiseki.orchestrator.deployer import LocalTritonDeployer  # noqa: E402
from kiseki.orchestrator.loop import Orchestrator  # noqa: E402
from kiseki.orchestrator.policy import parse_policies  # noqa: E402
from kiseki.runner.config import RunnerConfig  # noqa: E402
from kiseki.runner.evaluate import Emit, TaskCache, score_job  # noqa: E402
from kiseki.runner.loop import TaskRunner  # noqa: E402
from kiseki.serving.client import ScoringClient  # noqa: E402
from kiseki.serving.endpoints import LocalEndpointManager  # noqa: E402
from kiseki.v1 import events_pb2 as ev  # noqa: E402
from kiseki.watcher.runs import WatchedRun  # noqa: E402
from kiseki.watcher.scanner import RunScanner  # noqa: E402
from support.frameworks import FRAMEWORKS_PYTHON, framework_fixtures  # noqa: E402

ROUNDS, STEPS = 2, (10, 20, 30)
DATASETS = REPO / "datasets" / "synthetic"
# A short evaluation (a few samples, zero-shot): the endpoint's load and scoring still take
# about as long as a conversion here, so the overlap has something to hide behind.
POLICY = {
    "suites": ["synth_nli"],
    "scoring_modes": ["loglikelihood"],
    "max_num_samples": 8,
    "num_few_shots": 0,
}
ITER = "iter_0000010"
TIMEOUT_S = 600.0  # one round of three checkpoints


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def throughput(bench: Path, tokenizer: Path, scratch: Path) -> dict[str, float]:
    source = bench / "torch_dist" / ITER
    size = _bytes(source)
    kiseki, torch_own = [], []
    for index in range(3):
        for which in (("kiseki", "torch"), ("torch", "kiseki"))[index % 2]:
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            start = time.perf_counter()
            if which == "kiseki":
                convert(source, scratch / "hf", ev.CHECKPOINT_FORMAT_MEGATRON, tokenizer)
                kiseki.append(time.perf_counter() - start)
            else:
                dcp_to_torch_save(str(source), str(scratch / "model.pt"))
                torch_own.append(time.perf_counter() - start)
    gbps, baseline = (
        size / 1e9 / statistics.median(kiseki),
        size / 1e9 / statistics.median(torch_own),
    )
    return {"checkpoint_gb": round(size / 1e9, 3), "gb_per_s": round(gbps, 3),
            "baseline_dcp_to_torch_save_gb_per_s": round(baseline, 3),
            "ratio": round(gbps / baseline, 3)}  # fmt: skip


def fixtures(small: Path, bench: Path, scratch: Path) -> dict[str, dict[str, float]]:
    cases = {
        f"{case.name}/{layout}": (case / layout / ITER, "megatron", sys.executable)
        for case in sorted(small.glob("megatron-*"))
        for layout in ("torch_dist", "legacy")
    }
    cases["megatron-llama-bench/legacy"] = (bench / "legacy" / ITER, "megatron", sys.executable)
    deepspeed = small / "deepspeed-zero2" / "run" / "global_step1"
    cases["deepspeed-zero2"] = (deepspeed, "deepspeed", str(FRAMEWORKS_PYTHON))
    found = {}
    for name, (source, fmt, python) in cases.items():
        shutil.rmtree(scratch, ignore_errors=True)
        command = [python, "-m", "kiseki.conversion", str(source), str(scratch), "--format", fmt]
        start = time.perf_counter()
        subprocess.run([*command, "--tokenizer", str(small / "tokenizer")], check=True,
                       capture_output=True)  # fmt: skip
        seconds, size = time.perf_counter() - start, _bytes(source)
        found[name] = {"mb": round(size / 1e6, 2), "process_s": round(seconds, 2),
                       "mb_per_s": round(size / 1e6 / seconds, 3)}  # fmt: skip
    return found


def run_root(bench: Path, tokenizer: Path, out: Path) -> list[ev.CheckpointDiscovered]:
    """The run as Megatron-LM leaves it, three checkpoints, through the watcher's scanner."""
    for step in STEPS:
        destination = out / f"iter_{step:07d}"
        shutil.copytree(bench / "torch_dist" / ITER, destination, copy_function=os.link)
    (out / "latest_checkpointed_iteration.txt").write_text(str(STEPS[-1]))
    scanner = RunScanner(WatchedRun("bench", out, "megatron", tokenizer=tokenizer), 0.0, 1e3)
    scanner.scan(0.0)
    return sorted(scanner.scan(1.0).complete, key=lambda m: m.step)


async def first_scores(
    messages: list[ev.CheckpointDiscovered], ahead: int, workdir: Path, bootstrap: str
) -> dict[str, float]:
    kafka = KafkaConfig(bootstrap_servers=bootstrap)
    config = OrchestratorConfig(
        policy_file=Path("unused"),
        workdir=workdir,
        tick_s=0.1,
        conversion_dir=workdir / "converted",
        conversion_ahead=ahead,
    )
    deployer = LocalTritonDeployer(LocalEndpointManager(workdir))
    orchestrator = Orchestrator(kafka, config, parse_policies({"runs": {"*": POLICY}}), deployer)
    first: dict[str, float] = {}
    cache = TaskCache(DATASETS)

    async def score(job: ev.EvaluationJob, client: ScoringClient, emit: Emit) -> ev.JobResults:
        result = await score_job(job, client, cache, emit)
        first.setdefault(job.checkpoint_id, time.perf_counter())
        return result

    runner = TaskRunner(kafka, RunnerConfig(datasets_dir=DATASETS, items_per_request=8), score)
    contexts = [ServiceContext(name, Health()) for name in ("orchestrator", "runner")]
    producer = ProtoProducer(kafka, "bench")
    await producer.start()
    tasks = [asyncio.create_task(orchestrator.run(contexts[0])),
             asyncio.create_task(runner.run(contexts[1]))]  # fmt: skip
    try:
        discovered = time.perf_counter()
        for message in messages:
            await producer.send(kafka.topics.checkpoints, message, key=message.run_id)
        await _all_done(orchestrator, [m.checkpoint_id for m in messages], tasks)
        return {m.checkpoint_id: first[m.checkpoint_id] - discovered for m in messages}
    finally:
        for context in contexts:
            context.stopping.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        await deployer.close()


async def _all_done(
    orchestrator: Orchestrator, checkpoint_ids: list[str], tasks: list[asyncio.Task[None]]
) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        views = [orchestrator.fleet.views.get(ck) for ck in checkpoint_ids]
        states = [view.state if view else None for view in views]
        if all(state == ev.CHECKPOINT_STATE_DONE for state in states):
            return
        failed = [v.reason for v in views if v and v.state == ev.CHECKPOINT_STATE_FAILED]
        if failed or any(task.done() for task in tasks) or time.monotonic() > deadline:
            raise RuntimeError(f"the run did not finish: {failed or states}")
        await asyncio.sleep(0.2)


def overlap(bench: Path, tokenizer: Path, scratch: Path) -> dict[str, object]:
    messages = run_root(bench, tokenizer, scratch / "run")
    means: dict[int, list[float]] = {0: [], 1: []}
    ratios = []
    for index in range(ROUNDS):
        for ahead in ((1, 0), (0, 1))[index % 2]:
            workdir = scratch / f"round-{index}-ahead-{ahead}"
            workdir.mkdir()
            broker = start_tansu(workdir)  # a broker of its own per round: no topic shared
            try:
                run = first_scores(messages, ahead, workdir, broker.bootstrap_servers)
                seconds = asyncio.run(run)
            finally:
                broker.stop()
            means[ahead].append(statistics.mean(seconds.values()))
            shutil.rmtree(workdir, ignore_errors=True)
        ratios.append(means[0][-1] / means[1][-1])
    return {"checkpoints": len(messages), "rounds": ROUNDS,
            "discovery_to_first_score_s_with_overlap": round(statistics.median(means[1]), 2),
            "discovery_to_first_score_s_without_overlap": round(statistics.median(means[0]), 2),
            "ratio": round(statistics.median(ratios), 3)}  # fmt: skip


def main() -> None:
    small, bench_root = framework_fixtures(), framework_fixtures("bench")
    bench, tokenizer = bench_root / "megatron-llama-bench", bench_root / "tokenizer"
    with tempfile.TemporaryDirectory(prefix="kiseki-bench-conversion-") as tmp:
        scratch = Path(tmp)
        result = {
            "bench": "conversion",
            "throughput": throughput(bench, tokenizer, scratch / "throughput"),
            "fixtures": fixtures(small, bench, scratch / "fixture"),
            "first_score": overlap(bench, tokenizer, scratch),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
