"""The model runners call on a TensorRT-LLM endpoint speaks kiseki's endpoint contract.

The repository `kiseki trtllm-repo` writes is served by the real tritonserver: the front
model, the log-likelihood ensemble and the scorer as written; only the engine model
(`tensorrt_llm`) is a stand-in (support/trtllm_engine_model.py: an engine needs a GPU),
given exactly the tensors of kiseki's engine config and the same checkpoint. Its answers
through kiseki's client must equal kiseki's HF model on the same server, and llm-jp-eval's
rule for the generated text (cut at its first blank line, never stopped by the prompt).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from google.protobuf import text_format

from kiseki.core.config import load_config
from kiseki.evaluation.datasets import Dataset, Sample
from kiseki.evaluation.prompts import build_prompt
from kiseki.local.triton import LocalTriton, start_triton
from kiseki.serving import repository as hf_repository
from kiseki.serving.client import ScoringClient
from kiseki.serving.trtllm import inflight_batching
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.serving.trtllm.repository import write_repository
from support.scripted_gpt import scripted_checkpoint

ENGINE_MODEL = Path(__file__).resolve().parents[1] / "support" / "trtllm_engine_model.py"
MAX_NEW_TOKENS = 24
DATASET = Dataset("sounds", "動物の鳴き声を答えてください。", MAX_NEW_TOKENS, ("exact_match",), ())
CONTINUATIONS = {
    "犬": "\nわん\n\nbar",  # a newline first, then the answer, then a blank line
    "猫": "\n\nにゃー",  # the blank line comes first: llm-jp-eval reads ""
    "牛": "\nもーもーもーもーもー",  # no blank line within the budget
}


def _prompt(animal: str) -> str:
    numbers = "".join(f" {n}" for n in range(1, 30 * list(CONTINUATIONS).index(animal) + 1))
    return build_prompt(DATASET, Sample(animal + numbers, ""), [])


def _engine_stand_in(cfg: TrtllmConfig, out: Path, checkpoint: Path) -> None:
    config = inflight_batching.tensorrt_llm(cfg)
    config.backend = "python"
    config.parameters.clear()
    config.parameters["checkpoint_path"].string_value = str(checkpoint)
    (out / "tensorrt_llm" / "config.pbtxt").write_text(text_format.MessageToString(config))
    shutil.copyfile(ENGINE_MODEL, out / "tensorrt_llm" / "1" / "model.py")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scripts = {_prompt(animal): text for animal, text in CONTINUATIONS.items()}
    return scripted_checkpoint(tmp_path_factory.mktemp("scripted"), scripts)


@pytest.fixture(scope="module")
def triton(
    tmp_path_factory: pytest.TempPathFactory, service_logs: Path, checkpoint: Path
) -> Iterator[LocalTriton]:
    out = tmp_path_factory.mktemp("trtllm-repository")
    cfg = load_config(
        TrtllmConfig,
        {"KISEKI_TRTLLM_ENGINE_DIR": "/engine", "KISEKI_TRTLLM_TOKENIZER_DIR": str(checkpoint)},
    )
    write_repository(cfg, out)
    _engine_stand_in(cfg, out, checkpoint)
    hf_repository.write_model(out, "hf", checkpoint, hf_repository.ServingOptions(device="cpu"))
    models = ("tensorrt_llm", "scorer", "loglikelihood", "kiseki", "hf")
    server = start_triton(service_logs / "trtllm-front", out, load_models=models, timeout_s=180)
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def clients(triton: LocalTriton) -> AsyncIterator[tuple[ScoringClient, ScoringClient]]:
    front, hf = (ScoringClient(triton.grpc_address, name) for name in ("kiseki", "hf"))
    yield front, hf
    await front.close()
    await hf.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_generation_through_the_engine_is_cut_as_llm_jp_eval_cuts(
    clients: tuple[ScoringClient, ScoringClient],
) -> None:
    front, hf = clients
    prompts = [_prompt(animal) for animal in CONTINUATIONS]
    texts = await front.generate(prompts, MAX_NEW_TOKENS)
    assert texts[:2] == ["\nわん", ""]
    assert texts[2].startswith("\nもーもーもー")
    assert "\n\n" not in texts[2]
    assert texts == await hf.generate(prompts, MAX_NEW_TOKENS)


@pytest.mark.asyncio(loop_scope="module")
async def test_loglikelihood_through_the_engine_equals_kiseki_hf_model(
    clients: tuple[ScoringClient, ScoringClient],
) -> None:
    front, hf = clients
    pairs = [(_prompt("犬"), "\nわん"), (_prompt("犬"), "\nにゃー"), (_prompt("牛"), "\nもーもー")]
    pairs.append(("", "\nわん"))  # an empty context starts from EOS on every backend
    got, want = await front.loglikelihood(pairs), await hf.loglikelihood(pairs)
    assert [c.is_greedy for c in got] == [c.is_greedy for c in want]
    assert [c.is_greedy for c in want][:2] == [True, False]
    for mine, theirs in zip(got, want, strict=True):
        assert mine.logprob == pytest.approx(theirs.logprob, abs=1e-4)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_bad_request_fails_alone_with_its_reason(
    clients: tuple[ScoringClient, ScoringClient],
) -> None:
    front, _ = clients
    with pytest.raises(Exception, match="empty continuation"):
        await front.loglikelihood([("犬", "")])
    assert await front.generate([_prompt("犬")], MAX_NEW_TOKENS) == ["\nわん"]
