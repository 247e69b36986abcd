"""The four models of TensorRT-LLM's in-flight batching layout, as Triton ModelConfig messages.

preprocessing (tokenise) → tensorrt_llm (the engine) → postprocessing (detokenise), tied by
`ensemble`. Tensor names, types and dims follow the `inflight_batcher_llm` templates of the
tensorrtllm backend, because the pre/post-processing `model.py` files that ship with it look
their tensors up by these names when they load.
"""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.serving.trtllm.tensors import (
    BOOL,
    FP16,
    FP32,
    INT32,
    INT64,
    STRING,
    UINT64,
    Tensor,
    add_inputs,
    add_outputs,
    add_step,
    flag,
    on_cpu,
    set_parameters,
)

PREPROCESSING_INPUTS = [
    Tensor("QUERY", STRING, (1,)),
    Tensor("DECODER_QUERY", STRING, (1,), optional=True),
    Tensor("REQUEST_OUTPUT_LEN", INT32, (1,)),
    Tensor("BAD_WORDS_DICT", STRING, (-1,), optional=True),
    Tensor("STOP_WORDS_DICT", STRING, (-1,), optional=True),
    Tensor("EMBEDDING_BIAS_WORDS", STRING, (-1,), optional=True),
    Tensor("EMBEDDING_BIAS_WEIGHTS", FP32, (-1,), optional=True),
    Tensor("END_ID", INT32, (1,), optional=True),
    Tensor("PAD_ID", INT32, (1,), optional=True),
    Tensor("PROMPT_TABLE_EXTRA_ID", UINT64, (1,), optional=True),
]
# The shipped preprocessing model.py reads the dtype of each of these at load, multimodal
# ones included, so all must be declared even though text-only kiseki maps a few.
PREPROCESSING_OUTPUTS = [
    Tensor("INPUT_ID", INT32, (-1,)),
    Tensor("REQUEST_INPUT_LEN", INT32, (1,)),
    Tensor("DECODER_INPUT_ID", INT32, (-1,)),
    Tensor("REQUEST_DECODER_INPUT_LEN", INT32, (1,)),
    Tensor("BAD_WORDS_IDS", INT32, (2, -1)),
    Tensor("STOP_WORDS_IDS", INT32, (2, -1)),
    Tensor("EMBEDDING_BIAS", FP32, (-1,)),
    Tensor("REQUEST_OUTPUT_LEN", INT32, (-1,)),
    Tensor("OUT_END_ID", INT32, (1,)),
    Tensor("OUT_PAD_ID", INT32, (1,)),
    Tensor("OUT_PROMPT_TABLE_EXTRA_IDS", UINT64, (-1,)),
    Tensor("PIXEL_VALUES", FP16, (-1, -1, -1, -1)),
    Tensor("IMAGE_SIZES", INT64, (-1, 2)),
]
ENGINE_INPUTS = [
    Tensor("input_ids", INT32, (-1,), ragged=True),
    Tensor("input_lengths", INT32, (1,), scalar=True),
    Tensor("request_output_len", INT32, (1,), scalar=True),
    Tensor("end_id", INT32, (1,), optional=True, scalar=True),
    Tensor("pad_id", INT32, (1,), optional=True, scalar=True),
    Tensor("stop_words_list", INT32, (2, -1), optional=True, ragged=True),
    Tensor("bad_words_list", INT32, (2, -1), optional=True, ragged=True),
    Tensor("embedding_bias", FP32, (-1,), optional=True, ragged=True),
    Tensor("beam_width", INT32, (1,), optional=True, scalar=True),
    Tensor("temperature", FP32, (1,), optional=True, scalar=True),
    Tensor("runtime_top_k", INT32, (1,), optional=True, scalar=True),
    Tensor("runtime_top_p", FP32, (1,), optional=True, scalar=True),
    Tensor("return_log_probs", BOOL, (1,), optional=True, scalar=True),
    Tensor("return_context_logits", BOOL, (1,), optional=True, scalar=True),
    Tensor("return_generation_logits", BOOL, (1,), optional=True, scalar=True),
    Tensor("streaming", BOOL, (1,), optional=True, scalar=True),
]
# Logits are FP32 because the build passes `--logits_dtype float32`: scoring sums log-probs.
ENGINE_OUTPUTS = [
    Tensor("output_ids", INT32, (-1, -1)),
    Tensor("sequence_length", INT32, (-1,)),
    Tensor("cum_log_probs", FP32, (-1,)),
    Tensor("output_log_probs", FP32, (-1, -1)),
    Tensor("context_logits", FP32, (-1, -1)),
    Tensor("generation_logits", FP32, (-1, -1, -1)),
    Tensor("batch_index", INT32, (1,)),
    Tensor("sequence_index", INT32, (1,)),
]


def preprocessing(cfg: TrtllmConfig) -> mc.ModelConfig:
    config = mc.ModelConfig(
        name="preprocessing", backend="python", max_batch_size=cfg.max_batch_size
    )
    config.dynamic_batching.max_queue_delay_microseconds = cfg.max_queue_delay_us
    add_inputs(config, PREPROCESSING_INPUTS)
    add_outputs(config, PREPROCESSING_OUTPUTS)
    # The shipped model.py indexes multimodal_model_path unconditionally; empty means text only.
    set_parameters(
        config,
        {
            "tokenizer_dir": cfg.tokenizer_dir,
            "add_special_tokens": flag(cfg.add_special_tokens),
            "multimodal_model_path": "",
            "gpt_model_path": cfg.engine_dir,
        },
    )
    on_cpu(config, cfg.processing_instances)
    return config


def tensorrt_llm(cfg: TrtllmConfig) -> mc.ModelConfig:
    config = mc.ModelConfig(
        name="tensorrt_llm", backend="tensorrtllm", max_batch_size=cfg.max_batch_size
    )
    config.model_transaction_policy.decoupled = cfg.decoupled
    config.dynamic_batching.preferred_batch_size.append(cfg.max_batch_size)
    config.dynamic_batching.max_queue_delay_microseconds = cfg.max_queue_delay_us
    add_inputs(config, ENGINE_INPUTS)
    add_outputs(config, ENGINE_OUTPUTS)
    set_parameters(
        config,
        {
            "gpt_model_type": cfg.batching_strategy,
            "gpt_model_path": cfg.engine_dir,
            "batch_scheduler_policy": cfg.scheduler_policy,
            "kv_cache_free_gpu_mem_fraction": str(cfg.kv_cache_fraction),
            "max_beam_width": "1",
            # Generation is scored on the new text only, as llm-jp-eval does.
            "exclude_input_in_output": "true",
            "FORCE_CPU_ONLY_INPUT_TENSORS": "no",
        },
    )
    # KIND_CPU as in the backend's template: the backend itself places the engine on GPUs.
    on_cpu(config, 1)
    return config


def postprocessing(cfg: TrtllmConfig) -> mc.ModelConfig:
    config = mc.ModelConfig(
        name="postprocessing", backend="python", max_batch_size=cfg.max_batch_size
    )
    config.dynamic_batching.SetInParent()
    add_inputs(
        config,
        [Tensor("TOKENS_BATCH", INT32, (-1, -1)), Tensor("SEQUENCE_LENGTH", INT32, (-1,))],
    )
    add_outputs(config, [Tensor("OUTPUT", STRING, (-1,))])
    set_parameters(config, {"tokenizer_dir": cfg.tokenizer_dir, "skip_special_tokens": "true"})
    on_cpu(config, cfg.processing_instances)
    return config


def ensemble(cfg: TrtllmConfig) -> mc.ModelConfig:
    """Text in, text out: what the runner's `generate` requests call."""
    config = mc.ModelConfig(name="ensemble", platform="ensemble", max_batch_size=cfg.max_batch_size)
    add_inputs(
        config,
        [
            Tensor("text_input", STRING, (1,)),
            Tensor("max_tokens", INT32, (1,)),
            # Never STOP_TEXT: TensorRT-LLM matches a stop word's ids against the last tokens
            # of prompt + output (its decoder's output ids start with the prompt), so where
            # "\n\n" encodes as two "\n" a prompt ending in "### 応答:\n" would stop at the
            # first generated "\n", empty; where it is one token, "\n" then "\n" is missed.
            # Generation runs to max_tokens or end_id; the runner cuts the generated text.
            Tensor("stop_words", STRING, (-1,), optional=True),
            Tensor("end_id", INT32, (1,), optional=True),
            Tensor("pad_id", INT32, (1,), optional=True),
        ],
    )
    add_outputs(config, [Tensor("text_output", STRING, (-1,))])
    add_step(
        config,
        "preprocessing",
        {"QUERY": "text_input", "REQUEST_OUTPUT_LEN": "max_tokens"}
        | {"STOP_WORDS_DICT": "stop_words", "END_ID": "end_id", "PAD_ID": "pad_id"},
        {"INPUT_ID": "_INPUT_ID", "REQUEST_INPUT_LEN": "_REQUEST_INPUT_LEN"}
        | {"REQUEST_OUTPUT_LEN": "_REQUEST_OUTPUT_LEN", "STOP_WORDS_IDS": "_STOP_WORDS_IDS"}
        | {"OUT_END_ID": "_END_ID", "OUT_PAD_ID": "_PAD_ID"},
    )
    add_step(
        config,
        "tensorrt_llm",
        {"input_ids": "_INPUT_ID", "input_lengths": "_REQUEST_INPUT_LEN"}
        | {"request_output_len": "_REQUEST_OUTPUT_LEN", "stop_words_list": "_STOP_WORDS_IDS"}
        | {"end_id": "_END_ID", "pad_id": "_PAD_ID"},
        {"output_ids": "_TOKENS_BATCH", "sequence_length": "_SEQUENCE_LENGTH"},
    )
    add_step(
        config,
        "postprocessing",
        {"TOKENS_BATCH": "_TOKENS_BATCH", "SEQUENCE_LENGTH": "_SEQUENCE_LENGTH"},
        {"OUTPUT": "text_output"},
    )
    return config
