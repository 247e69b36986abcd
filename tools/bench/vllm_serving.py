"""Generation samples/s: kiseki's client on the vLLM backend, on the HF backend, and vLLM's
offline `LLM.generate` in-process (in vLLM's environment) as the reference.

One checkpoint (a 4x256 GPT-2, head size 64), 1,024 four-shot prompts of the synthetic
suites (each query made unique, so prefix caching shares only the few-shot blocks), greedy,
16 new tokens. Rounds alternate the three sides; each ratio is the median over rounds of that
round's pair. Prints one JSON object, with each endpoint's memory (RSS of tritonserver and its
model stub). Targets: vLLM pipeline ≥ 0.9x vLLM offline; vLLM pipeline ≥ 3x the HF pipeline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services"), str(REPO / "tools")]

from kiseki.evaluation.datasets import few_shot_examples, load_dataset  # noqa: E402
from kiseki.evaluation.prompts import build_prompt  # noqa: E402
from kiseki.local.paths import vllm_env_dir  # noqa: E402
from kiseki.serving.client import ScoringClient  # noqa: E402
from kiseki.serving.endpoints import LocalEndpointManager  # noqa: E402
from kiseki.serving.repository import ServingOptions  # noqa: E402
from tinygpt.train import TrainConfig, train  # noqa: E402

ITEMS, BATCH, MAX_NEW_TOKENS, ROUNDS, IN_FLIGHT = 1024, 256, 16, 3, 2
LAYERS, WIDTH = 4, 256
# Both cores for vLLM's compute (NOTES: 414-420 samples/s on two, 263 on one).
THREADS_BIND = "0-1"
REPLY = "vllm-offline: "  # the prefix of _vllm_offline.py's own lines
DATASETS = REPO / "datasets" / "synthetic"
SUITES = ("synth_arith", "synth_mc", "synth_mt", "synth_ner", "synth_nli", "synth_qa")


def prompts() -> list[str]:
    suites = [load_dataset(DATASETS, name) for name in SUITES]
    shots = [few_shot_examples(DATASETS, name, 4) for name in SUITES]
    out = []
    for i in range(ITEMS):
        dataset = suites[i % len(suites)]
        sample = dataset.samples[(i // len(suites)) % len(dataset.samples)]
        unique = dataclasses.replace(sample, input=f"{sample.input} ({i})")
        out.append(build_prompt(dataset, unique, shots[i % len(suites)]))
    return out


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its descendants (tritonserver and its model stub)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    kib = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return kib / 1024 + sum(rss_mib(int(child)) for child in children)


class Offline:
    """The reference process: one generate of every prompt per line sent."""

    def __init__(
        self, checkpoint: Path, prompts_file: Path, knobs: dict[str, object] | None = None
    ) -> None:
        """`knobs`: EngineKnobs' fields (default: both cores, the rest vLLM model's own)."""
        knobs = {"threads_bind": THREADS_BIND} if knobs is None else knobs
        argv = [str(vllm_env_dir() / "bin" / "python"), str(REPO / "tools/bench/_vllm_offline.py")]
        argv += [str(checkpoint), str(prompts_file), str(MAX_NEW_TOKENS), json.dumps(knobs)]
        pipe = subprocess.PIPE
        self.process = subprocess.Popen(
            argv, stdin=pipe, stdout=pipe, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        if self._reply() != "ready":
            raise RuntimeError("vLLM's offline reference did not start")

    def _reply(self) -> str:
        """The next line meant for this benchmark; vLLM logs on the same stdout."""
        for line in self.stdout:
            if line.startswith(REPLY):
                return line[len(REPLY) :].strip()
        raise RuntimeError("vLLM's offline reference exited")

    def round_s(self) -> float:
        self.stdin.write("go\n")
        self.stdin.flush()
        return float(self._reply())

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=60)


async def _served_round_s(client: ScoringClient, texts: list[str]) -> float:
    started = time.perf_counter()
    await client.generate(texts, MAX_NEW_TOKENS)
    return time.perf_counter() - started


async def measure(checkpoint: Path, workdir: Path, texts: list[str]) -> dict[str, object]:
    managers = {
        backend: LocalEndpointManager(
            workdir / backend,
            ServingOptions(
                backend=backend,
                max_batch_size=BATCH,
                max_items_per_forward=BATCH,
                vllm_threads_bind=THREADS_BIND,
            ),
        )
        for backend in ("hf", "vllm")
    }
    clients, memory = {}, {}
    prompts_file = workdir / "prompts.json"
    prompts_file.write_text(json.dumps(texts))
    offline = Offline(checkpoint, prompts_file)
    try:
        for backend, manager in managers.items():
            endpoint = await manager.load(backend, checkpoint)
            clients[backend] = ScoringClient(
                endpoint.address, backend, items_per_request=BATCH, max_in_flight=IN_FLIGHT
            )
        seconds: dict[str, list[float]] = {"hf": [], "vllm": [], "offline": []}
        for round_index in range(ROUNDS + 1):  # round 0 warms every side up
            timed = {b: await _served_round_s(c, texts) for b, c in clients.items()}
            timed["offline"] = offline.round_s()
            if round_index:
                for side, value in timed.items():
                    seconds[side].append(value)
        for backend, manager in managers.items():
            server = manager._server
            assert server is not None
            memory[backend] = round(rss_mib(server.process.pid))
    finally:
        offline.close()
        for client in clients.values():
            await client.close()
        for manager in managers.values():
            await manager.stop()
    return {"seconds": seconds, "memory_mib": memory}


def _ratio(numerator: list[float], denominator: list[float]) -> float:
    """Rate ratio of paired rounds (time of the denominator side over the numerator's)."""
    return statistics.median(d / n for n, d in zip(numerator, denominator, strict=True))


def main() -> None:
    texts = prompts()
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(out_dir=Path(tmp), checkpoint_steps=(0,), layers=LAYERS, width=WIDTH)
        corpus = [text + "\n\n" for text in texts[:64]]
        [checkpoint] = train(corpus, config)
        result = asyncio.run(measure(checkpoint, Path(tmp), texts))
    seconds: dict[str, list[float]] = result["seconds"]  # type: ignore[assignment]
    rates = {side: round(ITEMS / statistics.median(s), 1) for side, s in seconds.items()}
    print(
        json.dumps(
            {
                "benchmark": "vllm_serving",
                "model": f"gpt2 {LAYERS}x{WIDTH}",
                "items": ITEMS,
                "max_new_tokens": MAX_NEW_TOKENS,
                "rounds": ROUNDS,
                "generate_samples_per_s": {
                    "vllm_pipeline": rates["vllm"],
                    "hf_pipeline": rates["hf"],
                    "vllm_offline": rates["offline"],
                },
                "vllm_pipeline_over_offline": round(_ratio(seconds["vllm"], seconds["offline"]), 3),
                "target_over_offline": 0.9,
                "vllm_pipeline_over_hf": round(_ratio(seconds["vllm"], seconds["hf"]), 2),
                "target_over_hf": 3.0,
                "endpoint_memory_mib": result["memory_mib"],
            }
        )
    )


if __name__ == "__main__":
    main()
