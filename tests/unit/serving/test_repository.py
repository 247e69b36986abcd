from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from kiseki.local.paths import vllm_env_dir
from kiseki.serving.repository import ServingOptions, model_config, write_model


def test_model_directory_has_a_parseable_config_and_the_model(tmp_path: Path) -> None:
    options = ServingOptions(dtype="bfloat16", max_batch_size=128, gpu=True)
    directory = write_model(tmp_path, "run-s10-abc", Path("/ckpt/run/checkpoint-10"), options)
    config = text_format.Parse((directory / "config.pbtxt").read_text(), mc.ModelConfig())
    assert (directory / "1" / "model.py").read_text().startswith('"""kiseki\'s Triton')
    assert config.name == "run-s10-abc"
    assert config.backend == "python"
    assert config.max_batch_size == 128
    assert config.dynamic_batching.max_queue_delay_microseconds == options.queue_delay_us
    assert {i.name: i.optional for i in config.input} == {
        "TEXT": True,
        "MAX_NEW_TOKENS": True,
        "CONTEXT": True,
        "CONTINUATION": True,
        "SWAP_CHECKPOINT": True,
        "EXPECT_CHECKPOINT": True,
    }
    assert {o.name: o.data_type for o in config.output} == {
        "OUTPUT_TEXT": mc.TYPE_STRING,
        "LOGPROB": mc.TYPE_FP64,
        "IS_GREEDY": mc.TYPE_BOOL,
        "FINGERPRINT": mc.TYPE_FP64,
    }
    assert config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU
    assert config.parameters["checkpoint_path"].string_value == "/ckpt/run/checkpoint-10"
    assert config.parameters["dtype"].string_value == "bfloat16"


def test_rewriting_replaces_the_old_directory(tmp_path: Path) -> None:
    write_model(tmp_path, "m", Path("/a"), ServingOptions())
    (tmp_path / "m" / "stale.txt").write_text("x")
    write_model(tmp_path, "m", Path("/b"), ServingOptions())
    assert not (tmp_path / "m" / "stale.txt").exists()


def test_the_vllm_backend_runs_in_vllms_environment_on_whole_batches() -> None:
    options = ServingOptions(backend="vllm", max_batch_size=128, vllm_threads_bind="0-1")
    config = model_config("m", Path("/ck"), options)
    parameters = {key: value.string_value for key, value in config.parameters.items()}
    assert parameters["scorer"] == "vllm"
    assert parameters["EXECUTION_ENV_PATH"] == str(vllm_env_dir())
    assert parameters["max_items_per_forward"] == parameters["vllm_max_num_seqs"] == "128"
    assert parameters["vllm_threads_bind"] == "0-1"
    with pytest.raises(ValueError, match="unknown serving backend 'tgi'"):
        model_config("m", Path("/ck"), ServingOptions(backend="tgi"))
