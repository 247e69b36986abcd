"""The TensorRT-LLM model repository: every config.pbtxt parses with Triton's model-config
protobuf, carries the tensors the in-flight batching models use, and the ensembles are wired."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from kiseki.core.config import load_config
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.serving.trtllm.repository import (
    FRONT_MAX_ITEMS,
    copy_processing_models,
    write_repository,
)

ENV = {
    "KISEKI_TRTLLM_ENGINE_DIR": "/engines/run-s1000",
    "KISEKI_TRTLLM_TOKENIZER_DIR": "/ckpt/run/checkpoint-1000",
    "KISEKI_TRTLLM_MAX_BATCH_SIZE": "32",
    "KISEKI_TRTLLM_KV_CACHE_FRACTION": "0.7",
    "KISEKI_TRTLLM_BATCHING_STRATEGY": "V1",
    "KISEKI_TRTLLM_MAX_QUEUE_DELAY_US": "2500",
    "KISEKI_TRTLLM_DECOUPLED": "true",
    "KISEKI_TRTLLM_ADD_SPECIAL_TOKENS": "false",
}
# What the shipped preprocessing model.py looks up by name when it loads.
PREPROCESSING_LOOKUPS = {
    "INPUT_ID", "DECODER_INPUT_ID", "REQUEST_INPUT_LEN", "REQUEST_DECODER_INPUT_LEN",
    "BAD_WORDS_IDS", "STOP_WORDS_IDS", "OUT_END_ID", "OUT_PAD_ID", "OUT_PROMPT_TABLE_EXTRA_IDS",
    "PIXEL_VALUES", "IMAGE_SIZES",
}  # fmt: skip


def _configs(directory: Path, env: dict[str, str] = ENV) -> dict[str, mc.ModelConfig]:
    write_repository(load_config(TrtllmConfig, env), directory)
    return {
        path.parent.name: text_format.Parse(path.read_text(), mc.ModelConfig())
        for path in directory.glob("*/config.pbtxt")
    }


@pytest.fixture
def configs(tmp_path: Path) -> dict[str, mc.ModelConfig]:
    return _configs(tmp_path)


def _tensors(entries: object) -> dict[str, tuple[int, list[int]]]:
    return {t.name: (t.data_type, list(t.dims)) for t in entries}  # type: ignore[attr-defined]


def test_the_layout_is_inflight_batching_plus_the_scorer(tmp_path: Path) -> None:
    configs = _configs(tmp_path)
    assert sorted(configs) == [
        "ensemble", "kiseki", "loglikelihood", "postprocessing", "preprocessing", "scorer",
        "tensorrt_llm",
    ]  # fmt: skip
    assert all(config.name == name for name, config in configs.items())
    assert all((tmp_path / name / "1").is_dir() for name in configs)
    scorer_files = sorted(p.name for p in (tmp_path / "scorer" / "1").iterdir())
    assert scorer_files == ["kiseki_scoring.py", "model.py"]
    assert "from kiseki." not in (tmp_path / "scorer" / "1" / "kiseki_scoring.py").read_text()
    front_files = sorted(p.name for p in (tmp_path / "kiseki" / "1").iterdir())
    assert front_files == ["kiseki_results.py", "model.py"]
    assert "kiseki." not in (tmp_path / "kiseki" / "1" / "kiseki_results.py").read_text()
    # The engine's models batch sequences; the front takes a runner's packed request whole.
    assert {c.max_batch_size for n, c in configs.items() if n != "kiseki"} == {32}
    assert configs["kiseki"].max_batch_size == FRONT_MAX_ITEMS


def test_engine_model_takes_its_parameters_from_config(configs: dict[str, mc.ModelConfig]) -> None:
    engine = configs["tensorrt_llm"]
    assert engine.backend == "tensorrtllm"
    assert engine.model_transaction_policy.decoupled is True
    assert engine.dynamic_batching.max_queue_delay_microseconds == 2500
    parameters = {key: value.string_value for key, value in engine.parameters.items()}
    assert parameters["gpt_model_path"] == "/engines/run-s1000"
    assert parameters["gpt_model_type"] == "V1"
    assert parameters["kv_cache_free_gpu_mem_fraction"] == "0.7"
    assert parameters["batch_scheduler_policy"] == "guaranteed_no_evict"
    assert parameters["exclude_input_in_output"] == "true"
    inputs = {t.name: t for t in engine.input}
    assert _tensors(engine.input)["input_ids"] == (mc.TYPE_INT32, [-1])
    assert inputs["input_ids"].allow_ragged_batch
    assert inputs["input_lengths"].HasField("reshape")
    assert not inputs["input_lengths"].optional
    assert inputs["return_context_logits"].data_type == mc.TYPE_BOOL
    assert inputs["return_context_logits"].optional
    outputs = _tensors(engine.output)
    assert outputs["output_ids"] == (mc.TYPE_INT32, [-1, -1])
    assert outputs["sequence_length"] == (mc.TYPE_INT32, [-1])
    assert outputs["context_logits"] == (mc.TYPE_FP32, [-1, -1])


def test_processing_models_match_the_shipped_model_py(configs: dict[str, mc.ModelConfig]) -> None:
    pre, post = configs["preprocessing"], configs["postprocessing"]
    assert pre.backend == post.backend == "python"
    assert {t.name for t in pre.output} >= PREPROCESSING_LOOKUPS
    assert {"EMBEDDING_BIAS_WORDS", "EMBEDDING_BIAS_WEIGHTS"} <= {t.name for t in pre.input}
    assert _tensors(pre.input)["QUERY"] == (mc.TYPE_STRING, [1])
    assert pre.parameters["tokenizer_dir"].string_value == ENV["KISEKI_TRTLLM_TOKENIZER_DIR"]
    assert pre.parameters["add_special_tokens"].string_value == "false"
    assert pre.parameters["multimodal_model_path"].string_value == ""
    assert _tensors(post.input) == {
        "TOKENS_BATCH": (mc.TYPE_INT32, [-1, -1]),
        "SEQUENCE_LENGTH": (mc.TYPE_INT32, [-1]),
    }
    assert _tensors(post.output) == {"OUTPUT": (mc.TYPE_STRING, [-1])}
    assert post.parameters["tokenizer_dir"].string_value == ENV["KISEKI_TRTLLM_TOKENIZER_DIR"]


def test_scorer_returns_only_two_numbers_per_item(configs: dict[str, mc.ModelConfig]) -> None:
    scorer = configs["scorer"]
    assert scorer.backend == "python"
    assert _tensors(scorer.input) == {
        "CONTEXT_LOGITS": (mc.TYPE_FP32, [-1, -1]),
        "INPUT_IDS": (mc.TYPE_INT32, [-1]),
        "INPUT_LENGTH": (mc.TYPE_INT32, [1]),
        "CONTINUATION_START": (mc.TYPE_INT32, [1]),
    }
    assert _tensors(scorer.output) == {
        "LOGPROB": (mc.TYPE_FP64, [1]),
        "IS_GREEDY": (mc.TYPE_BOOL, [1]),
    }
    assert {t.name for t in configs["loglikelihood"].output} == {"logprob", "is_greedy"}


@pytest.mark.parametrize(
    ("name", "models"),
    [
        ("ensemble", ["preprocessing", "tensorrt_llm", "postprocessing"]),
        ("loglikelihood", ["tensorrt_llm", "scorer"]),
    ],
)
def test_ensemble_steps_wire_every_tensor_from_a_producer_of_its_type(
    configs: dict[str, mc.ModelConfig], name: str, models: list[str]
) -> None:
    ensemble = configs[name]
    assert ensemble.platform == "ensemble"
    steps = list(ensemble.ensemble_scheduling.step)
    assert [step.model_name for step in steps] == models
    available = {t.name: t.data_type for t in ensemble.input}
    for step in steps:
        model = configs[step.model_name]
        inputs = {t.name: t for t in model.input}
        outputs = {t.name: t for t in model.output}
        assert {t for t, i in inputs.items() if not i.optional} <= set(step.input_map)
        for model_tensor, ensemble_tensor in step.input_map.items():
            assert available[ensemble_tensor] == inputs[model_tensor].data_type, model_tensor
        for model_tensor, ensemble_tensor in step.output_map.items():
            available[ensemble_tensor] = outputs[model_tensor].data_type
    for output in ensemble.output:
        assert available[output.name] == output.data_type, output.name


def test_processing_model_py_comes_from_a_trtllm_source_tree(tmp_path: Path) -> None:
    source = tmp_path / "TensorRT-LLM"
    for model in ("preprocessing", "postprocessing"):
        version = source / "triton_backend/all_models/inflight_batcher_llm" / model / "1"
        version.mkdir(parents=True)
        (version / "model.py").write_text(f"# {model}\n")
    out = tmp_path / "repo"
    written = write_repository(load_config(TrtllmConfig, ENV), out, source)
    assert (out / "preprocessing" / "1" / "model.py").read_text() == "# preprocessing\n"
    assert out / "postprocessing" / "1" / "model.py" in written
    with pytest.raises(FileNotFoundError, match="inflight_batcher_llm"):
        copy_processing_models(tmp_path / "empty", out)
