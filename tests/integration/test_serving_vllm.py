"""kiseki's vLLM backend, served by the real tritonserver, scores as its HF backend does.

One tritonserver per backend for the module (vLLM's engine starts in 20-40 s), on a 2x128 GPT
with head size 32: vLLM's CPU attention refuses the tiny GPT's head size 16.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.store import Store, apply_schema
from kiseki.evaluation.datasets import few_shot_examples, load_dataset
from kiseki.evaluation.prompts import build_prompt
from kiseki.runner.config import RunnerConfig
from kiseki.runner.evaluate import TaskCache, score_job
from kiseki.serving.client import ScoringClient
from kiseki.serving.endpoints import Endpoint, EndpointLoadError, LocalEndpointManager
from kiseki.serving.repository import ServingOptions
from kiseki.sink.writer import StoreWriter
from kiseki.v1 import events_pb2 as ev
from support.corpus import TINY_CORPUS
from support.kafka import consume_until
from support.model_processes import alive, children_of, model_process
from support.runner import DATASETS, running_job_runner

SUITES = ("synth_arith", "synth_mc", "synth_mt", "synth_ner", "synth_nli", "synth_qa")
SAMPLES_PER_SUITE = 6


def _suite_items() -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """The demo suites' four-shot prompts with their output lengths, and (prompt, gold)."""
    prompts, pairs = [], []
    for name in SUITES:
        dataset = load_dataset(DATASETS, name)
        shots = few_shot_examples(DATASETS, name, 4)
        for sample in dataset.samples[:SAMPLES_PER_SUITE]:
            prompt = build_prompt(dataset, sample, shots)
            prompts.append((prompt, dataset.output_length))
            pairs.append((prompt, sample.output))
    return prompts, pairs


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tinygpt.train import TrainConfig, train

    out = tmp_path_factory.mktemp("gpt-2x128")
    [path] = train(TINY_CORPUS, TrainConfig(out_dir=out, checkpoint_steps=(60,), width=128))
    return path


@pytest.fixture(scope="module")
def untrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run's step 0: the architecture and tokenizer of `checkpoint`, other weights."""
    from tinygpt.train import TrainConfig, train

    out = tmp_path_factory.mktemp("gpt-2x128-s0")
    [path] = train(TINY_CORPUS, TrainConfig(out_dir=out, checkpoint_steps=(0,), width=128))
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def managers(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[dict[str, LocalEndpointManager]]:
    by_backend = {
        backend: LocalEndpointManager(
            tmp_path_factory.mktemp(backend), ServingOptions(backend=backend)
        )
        for backend in ("hf", "vllm")
    }
    try:
        yield by_backend
    finally:
        for manager in by_backend.values():
            await manager.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def endpoints(
    managers: dict[str, LocalEndpointManager], checkpoint: Path
) -> dict[str, Endpoint]:
    return {b: await m.load(f"ck-{b}", checkpoint) for b, m in managers.items()}


async def _served(endpoint: Endpoint, prompts: list[tuple[str, int]]) -> list[str]:
    client = ScoringClient(endpoint.address, endpoint.model_name)
    try:
        return [(await client.generate([p], budget))[0] for p, budget in prompts]
    finally:
        await client.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_vllm_generates_and_scores_as_hf(endpoints: dict[str, Endpoint]) -> None:
    assert endpoints["vllm"].backend == "vllm"
    prompts, pairs = _suite_items()
    texts = {b: await _served(e, prompts) for b, e in endpoints.items()}
    assert texts["vllm"] == texts["hf"]
    assert len(set(texts["vllm"])) > 1  # the trained model answers, not one fixed string
    scores = {}
    for backend, endpoint in endpoints.items():
        client = ScoringClient(endpoint.address, endpoint.model_name)
        scores[backend] = await client.loglikelihood(pairs)
        await client.close()
    for vllm, hf in zip(scores["vllm"], scores["hf"], strict=True):
        assert vllm.logprob == pytest.approx(hf.logprob, abs=1e-4)
        assert vllm.is_greedy == hf.is_greedy


@pytest.mark.asyncio(loop_scope="module")
async def test_an_answer_starting_with_a_newline_keeps_it(endpoints: dict[str, Endpoint]) -> None:
    # The corpus puts "\n答え: " after the question: the blank-line rule reads only the
    # generated text, so the first "\n" (next to the prompt's end) does not stop it.
    prompts = [("問題: 3 + 4 = ?", 12)]
    [vllm] = await _served(endpoints["vllm"], prompts)
    assert vllm.startswith("\n答え:")
    assert "\n\n" not in vllm
    assert [vllm] == await _served(endpoints["hf"], prompts)


def _job(endpoint: Endpoint, mode: int) -> ev.EvaluationJob:
    return ev.EvaluationJob(
        job_id=f"j{mode}",
        checkpoint_id="ck",
        run_id="run",
        step=60,
        endpoint=endpoint.address,
        model_name=endpoint.model_name,
        dataset="synth_nli" if mode == ev.SCORING_MODE_LOGLIKELIHOOD else "synth_qa",
        shard_index=0,
        shard_count=4,
        scoring_mode=mode,  # type: ignore[arg-type]
        num_few_shots=2,
    )


@pytest.mark.asyncio(loop_scope="module")
async def test_the_runner_scores_a_job_on_vllm_as_on_hf(endpoints: dict[str, Endpoint]) -> None:
    cache = TaskCache(DATASETS)
    for mode in (ev.SCORING_MODE_GENERATE, ev.SCORING_MODE_LOGLIKELIHOOD):
        summaries = {}
        for backend, endpoint in endpoints.items():
            client = ScoringClient(endpoint.address, endpoint.model_name)
            try:
                summaries[backend] = (await score_job(_job(endpoint, mode), client, cache)).summary
            finally:
                await client.close()
        assert not summaries["vllm"].failed, summaries["vllm"].error
        assert summaries["vllm"].num_samples == 10
        assert dict(summaries["vllm"].scores) == pytest.approx(dict(summaries["hf"].scores))


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
@pytest.mark.asyncio(loop_scope="module")
async def test_a_vllm_engine_killed_mid_job_is_reloaded_and_the_job_lands_once(
    managers: dict[str, LocalEndpointManager],
    checkpoint: Path,
    kafka_config: KafkaConfig,
    chdb_store: Store,
) -> None:
    """The Python model process running vLLM's engine dies while a runner scores a job: the
    watchdog reloads it, the runner's retry scores the whole job again, and the store keeps
    each sample once. The dead engine's own processes go with it."""
    manager = managers["vllm"]
    manager.probe_interval_s = 1.0
    await manager.start()  # the watchdog
    endpoint = await manager.load("victim", checkpoint)
    job = _job(endpoint, ev.SCORING_MODE_GENERATE)
    job.job_id, job.shard_count = "victim-job", 1
    # One sample a request, so the job is still running when its first samples arrive; tries
    # enough to outwait a probe and a vLLM reload (20-40 s here), as the chaos stack's do.
    config = RunnerConfig(
        datasets_dir=DATASETS, items_per_request=1, max_in_flight=1, max_attempts=9
    )
    async with running_job_runner(kafka_config, config) as producer:
        await producer.send(kafka_config.topics.jobs, job, key=job.checkpoint_id)
        first = await consume_until(
            kafka_config, kafka_config.topics.results, "r", ev.JobResults, producer, bool, 1
        )
        engine = model_process(manager, "victim")
        helpers = children_of(engine)
        os.kill(engine, signal.SIGKILL)
        rest = await consume_until(
            kafka_config,
            kafka_config.topics.results,
            "r",
            ev.JobResults,
            producer,
            lambda got: any(d.message.summary.job_id for d in got),
            polls=600,
        )
    results = first + rest
    [summary] = [d.message.summary for d in results if d.message.summary.job_id]
    assert not summary.failed, summary.error
    published = [s.sample_index for d in results for s in d.message.samples]
    assert len(published) > 40  # the kill landed mid-job: part of it was scored twice
    assert sorted(set(published)) == list(range(40))
    assert not [pid for pid in helpers if alive(pid)]

    apply_schema(chdb_store)
    writer = StoreWriter(chdb_store)
    for delivery in results:
        await writer.write_results([delivery])
    [row] = chdb_store.query(
        "SELECT count() AS n, uniqExact(sample_index) AS distinct FROM sample_results FINAL"
        " WHERE job_id = 'victim-job'"
    )
    assert (row["n"], row["distinct"]) == (40, 40)
    await manager.unload("victim")


def _llama(out: Path, tokenizer_from: Path, seed: int) -> Path:
    """A random 2x128 Llama (LLM-jp's architecture), head size 32, the GPT's tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


async def _fingerprint(endpoint: Endpoint) -> list[float]:
    client = ScoringClient(endpoint.address, endpoint.model_name)
    try:
        return await client.swap("")
    finally:
        await client.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_vllm_swaps_llama_weights_in_place_and_refuses_gpt2(
    managers: dict[str, LocalEndpointManager],
    endpoints: dict[str, Endpoint],
    untrained: Path,
    checkpoint: Path,
    tmp_path: Path,
) -> None:
    """Last in the module. GPT-2's in-place reload on vLLM answered with neither checkpoint's
    weights (checked by hand), so it is refused and the endpoint unloaded; a Llama swaps, and
    answers as HF on the new weights: its prefix cache (the four-shot prompts' KV computed
    with the old ones) was dropped."""
    with pytest.raises(EndpointLoadError, match="not known to match a cold load"):
        await managers["vllm"].swap("ck-vllm", untrained)
    assert "ck-vllm" not in managers["vllm"].loaded

    old, new = (_llama(tmp_path / f"llama-{s}", checkpoint, s) for s in (0, 1))
    prompts, _ = _suite_items()
    slot = await managers["vllm"].load("llama", old)
    before = await _served(slot, prompts)
    reference = await managers["hf"].load("llama", new)
    swapped = await managers["vllm"].swap("llama", new, await _fingerprint(reference))
    after = await _served(swapped, prompts)
    # A random model's answer cut by its budget inside a multi-byte character ends in U+FFFD
    # from HF's decode, where vLLM holds the incomplete bytes back.
    assert after == [text.rstrip("\ufffd") for text in await _served(reference, prompts)]
    assert after != before
