"""The Triton model repository for a TensorRT-LLM engine.

The in-flight batching layout (preprocessing → tensorrt_llm → postprocessing, tied by
`ensemble`, for generation) plus kiseki's log-likelihood path: `loglikelihood` is an ensemble
that runs tensorrt_llm with context logits on and hands them to `scorer`, so only the
continuation's summed log-prob and greedy flag leave the server, never vocabulary-wide logits.

Configs are built as Triton ModelConfig messages and printed in protobuf text format, so
what is written always parses. The pre/post-processing `model.py` files belong to the
TensorRT-LLM version of the image (the image does not ship them): they are copied from a
TensorRT-LLM source tree when one is given, else the serving pod must put them in place.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from kiseki.serving.trtllm import inflight_batching
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.serving.trtllm.tensors import (
    BOOL,
    FP32,
    INT32,
    STRING,
    Tensor,
    add_inputs,
    add_outputs,
    add_step,
    flag,
    on_cpu,
    set_parameters,
)

_HERE = Path(__file__).resolve().parent
# Files kiseki owns in the repository, by model: kiseki is not installed in the image.
OWN_FILES = {
    "scorer": {
        _HERE / "scorer" / "model.py": "model.py",
        _HERE / "scoring.py": "kiseki_scoring.py",
    },
    "kiseki": {
        _HERE / "front" / "model.py": "model.py",
        _HERE.parent / "results.py": "kiseki_results.py",
    },
}
# Items in one runner request, as kiseki's own Triton model takes them.
FRONT_MAX_ITEMS = 256
PROCESSING_MODELS = ("preprocessing", "postprocessing")
# Where a TensorRT-LLM source tree keeps them (1.x layout, then the older backend repo's).
PROCESSING_SOURCES = (
    "triton_backend/all_models/inflight_batcher_llm",
    "all_models/inflight_batcher_llm",
)


def front(cfg: TrtllmConfig) -> mc.ModelConfig:
    """The model the runners call: kiseki's endpoint contract, served by the engine."""
    config = mc.ModelConfig(name="kiseki", backend="python", max_batch_size=FRONT_MAX_ITEMS)
    add_inputs(
        config,
        [
            Tensor("TEXT", STRING, (1,), optional=True),
            Tensor("MAX_NEW_TOKENS", INT32, (1,), optional=True),
            Tensor("CONTEXT", STRING, (1,), optional=True),
            Tensor("CONTINUATION", STRING, (1,), optional=True),
        ],
    )
    add_outputs(
        config,
        [
            Tensor("OUTPUT_TEXT", STRING, (1,)),
            Tensor("LOGPROB", mc.TYPE_FP64, (1,)),
            Tensor("IS_GREEDY", BOOL, (1,)),
        ],
    )
    set_parameters(
        config,
        {
            "tokenizer_dir": cfg.tokenizer_dir,
            "add_special_tokens": flag(cfg.add_special_tokens),
            "max_input_len": str(cfg.max_input_len),
            "default_max_new_tokens": str(min(32, cfg.max_output_len)),
            "decoupled": flag(cfg.decoupled),
        },
    )
    on_cpu(config, 1)
    return config


def scorer(cfg: TrtllmConfig) -> mc.ModelConfig:
    config = mc.ModelConfig(name="scorer", backend="python", max_batch_size=cfg.max_batch_size)
    add_inputs(
        config,
        [
            Tensor("CONTEXT_LOGITS", FP32, (-1, -1)),
            Tensor("INPUT_IDS", INT32, (-1,)),
            Tensor("INPUT_LENGTH", INT32, (1,)),
            Tensor("CONTINUATION_START", INT32, (1,)),
        ],
    )
    add_outputs(config, [Tensor("LOGPROB", mc.TYPE_FP64, (1,)), Tensor("IS_GREEDY", BOOL, (1,))])
    on_cpu(config, cfg.processing_instances)
    return config


def loglikelihood(cfg: TrtllmConfig) -> mc.ModelConfig:
    """Token ids in (the runner tokenises context and continuation apart, as the in-process
    HF scorer does); the caller sets request_output_len 1 and return_context_logits true."""
    config = mc.ModelConfig(
        name="loglikelihood", platform="ensemble", max_batch_size=cfg.max_batch_size
    )
    add_inputs(
        config,
        [
            Tensor("input_ids", INT32, (-1,)),
            Tensor("input_lengths", INT32, (1,)),
            Tensor("continuation_start", INT32, (1,)),
            Tensor("request_output_len", INT32, (1,)),
            Tensor("return_context_logits", BOOL, (1,)),
        ],
    )
    add_outputs(config, [Tensor("logprob", mc.TYPE_FP64, (1,)), Tensor("is_greedy", BOOL, (1,))])
    add_step(
        config,
        "tensorrt_llm",
        {name: name for name in ("input_ids", "input_lengths", "request_output_len")}
        | {"return_context_logits": "return_context_logits"},
        {"context_logits": "_CONTEXT_LOGITS"},
    )
    add_step(
        config,
        "scorer",
        {"CONTEXT_LOGITS": "_CONTEXT_LOGITS", "INPUT_IDS": "input_ids"}
        | {"INPUT_LENGTH": "input_lengths", "CONTINUATION_START": "continuation_start"},
        {"LOGPROB": "logprob", "IS_GREEDY": "is_greedy"},
    )
    return config


MODELS: tuple[Callable[[TrtllmConfig], mc.ModelConfig], ...] = (
    inflight_batching.preprocessing,
    inflight_batching.tensorrt_llm,
    inflight_batching.postprocessing,
    inflight_batching.ensemble,
    scorer,
    loglikelihood,
    front,
)


def model_configs(cfg: TrtllmConfig) -> dict[str, mc.ModelConfig]:
    cfg.validate()
    return {config.name: config for config in (build(cfg) for build in MODELS)}


def copy_processing_models(trtllm_source: Path, out: Path) -> list[Path]:
    """Copy the pre/post-processing model.py of the TensorRT-LLM version that serves."""
    for layout in PROCESSING_SOURCES:
        models = trtllm_source / layout
        if all((models / name / "1" / "model.py").is_file() for name in PROCESSING_MODELS):
            break
    else:
        raise FileNotFoundError(
            f"no {' or '.join(PROCESSING_SOURCES)} with pre/post-processing model.py"
            f" under {trtllm_source}"
        )
    copied = []
    for name in PROCESSING_MODELS:
        target = out / name / "1" / "model.py"
        shutil.copyfile(models / name / "1" / "model.py", target)
        copied.append(target)
    return copied


def write_repository(cfg: TrtllmConfig, out: Path, trtllm_source: Path | None = None) -> list[Path]:
    """Write every model's config.pbtxt (and the files kiseki owns); return what was written."""
    written = []
    for name, config in model_configs(cfg).items():
        version = out / name / "1"
        version.mkdir(parents=True, exist_ok=True)
        path = out / name / "config.pbtxt"
        path.write_text(text_format.MessageToString(config))
        written.append(path)
    for model, files in OWN_FILES.items():
        for source, target_name in files.items():
            target = out / model / "1" / target_name
            shutil.copyfile(source, target)
            written.append(target)
    if trtllm_source is not None:
        written += copy_processing_models(trtllm_source, out)
    return written
