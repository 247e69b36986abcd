"""TensorRT-LLM settings, read once from the environment and checked before anything is written."""

from __future__ import annotations

from dataclasses import dataclass

from kiseki.core.config import ConfigError, setting

# Values the tensorrtllm backend accepts for `gpt_model_type`.
BATCHING_STRATEGIES = ("inflight_fused_batching", "inflight_batching", "V1")
SCHEDULER_POLICIES = ("guaranteed_no_evict", "max_utilization")
CHECKPOINT_DTYPES = ("bfloat16", "float16", "float32")


@dataclass(frozen=True)
class TrtllmConfig:
    engine_dir: str = setting(
        "KISEKI_TRTLLM_ENGINE_DIR",
        doc="where trtllm-build writes the engine and tensorrt_llm loads it (same path in both)",
    )
    tokenizer_dir: str = setting(
        "KISEKI_TRTLLM_TOKENIZER_DIR", doc="HF tokenizer files the pre/post-processing models load"
    )
    checkpoint_dir: str = setting(
        "KISEKI_TRTLLM_CHECKPOINT_DIR",
        "",
        doc="the HF checkpoint the build Job converts; only the Job needs it",
    )
    model_family: str = setting(
        "KISEKI_TRTLLM_MODEL_FAMILY",
        "llama",
        doc="examples/<family>/convert_checkpoint.py to run; LLM-jp-3 is a llama architecture",
    )
    checkpoint_dtype: str = setting(
        "KISEKI_TRTLLM_DTYPE",
        "bfloat16",
        doc="weights dtype of the engine; LLM-jp-3 trains in bf16",
    )
    max_batch_size: int = setting(
        "KISEKI_TRTLLM_MAX_BATCH_SIZE",
        64,
        unit="sequences",
        doc="engine and Triton batch size; 64 fills an H100 with 4-shot prompts of small models",
    )
    max_input_len: int = setting(
        "KISEKI_TRTLLM_MAX_INPUT_LEN",
        4096,
        unit="tokens",
        doc="the longest 4-shot llm-jp-eval prompt (and context+continuation) must fit",
    )
    max_output_len: int = setting(
        "KISEKI_TRTLLM_MAX_OUTPUT_LEN",
        512,
        unit="tokens",
        doc="the largest output_length of an llm-jp-eval v1.4.1 dataset fits under it",
    )
    kv_cache_fraction: float = setting(
        "KISEKI_TRTLLM_KV_CACHE_FRACTION",
        0.85,
        unit="fraction of free GPU memory after the engine loads",
        doc="below the backend's 0.9 to leave room for the context logits scoring returns",
    )
    batching_strategy: str = setting(
        "KISEKI_TRTLLM_BATCHING_STRATEGY",
        "inflight_fused_batching",
        doc="in-flight batching keeps the GPU busy with prompts of unequal lengths; V1 is static",
    )
    scheduler_policy: str = setting(
        "KISEKI_TRTLLM_SCHEDULER_POLICY",
        "guaranteed_no_evict",
        doc="a started request is never paused, so latencies recorded per sample stay comparable",
    )
    max_queue_delay_us: int = setting(
        "KISEKI_TRTLLM_MAX_QUEUE_DELAY_US",
        1000,
        unit="microseconds",
        doc="a 1 ms wait lets a packed request's items join the same in-flight iteration",
    )
    decoupled: bool = setting(
        "KISEKI_TRTLLM_DECOUPLED",
        False,
        doc="off: the runner uses unary gRPC infer; on only for streaming clients",
    )
    add_special_tokens: bool = setting(
        "KISEKI_TRTLLM_ADD_SPECIAL_TOKENS",
        True,
        doc="as tokenizer(prompt) in the in-process HF generation, so prompts get the same BOS",
    )
    processing_instances: int = setting(
        "KISEKI_TRTLLM_PROCESSING_INSTANCES",
        5,
        unit="model instances",
        doc="the TensorRT-LLM docs find about 5 tokenizer instances keep in-flight batching fed",
    )
    tensor_parallel: int = setting(
        "KISEKI_TRTLLM_TP_SIZE", 1, unit="GPUs", doc="one GPU holds models up to ~13B in bf16"
    )
    image: str = setting(
        "KISEKI_TRTLLM_IMAGE",
        "nvcr.io/nvidia/tritonserver:25.10-trtllm-python-py3",
        doc="the Triton TensorRT-LLM image that builds the engine and serves it (same TRT version)",
    )
    source_dir: str = setting(
        "KISEKI_TRTLLM_SOURCE_DIR",
        "/opt/tensorrt_llm",
        doc="TensorRT-LLM source at the image's version (examples/); the image ships none",
    )
    scratch_gib: int = setting(
        "KISEKI_TRTLLM_SCRATCH_GIB",
        64,
        unit="GiB",
        doc="the converted checkpoint is ~2 bytes/parameter; 64 GiB fits models up to ~30B",
    )
    build_memory_gib: int = setting(
        "KISEKI_TRTLLM_BUILD_MEMORY_GIB",
        64,
        unit="GiB",
        doc="conversion holds one shard set in host memory; 64 GiB suits models up to ~30B",
    )

    def validate(self) -> TrtllmConfig:
        """Raise ConfigError naming the first variable whose value cannot work."""
        if not 0.0 < self.kv_cache_fraction < 1.0:
            raise ConfigError(
                f"KISEKI_TRTLLM_KV_CACHE_FRACTION={self.kv_cache_fraction} must be in (0, 1)"
            )
        for variable, value, allowed in (
            ("KISEKI_TRTLLM_BATCHING_STRATEGY", self.batching_strategy, BATCHING_STRATEGIES),
            ("KISEKI_TRTLLM_SCHEDULER_POLICY", self.scheduler_policy, SCHEDULER_POLICIES),
            ("KISEKI_TRTLLM_DTYPE", self.checkpoint_dtype, CHECKPOINT_DTYPES),
        ):
            if value not in allowed:
                raise ConfigError(f"{variable}={value!r} must be one of {', '.join(allowed)}")
        for variable, path in (
            ("KISEKI_TRTLLM_ENGINE_DIR", self.engine_dir),
            ("KISEKI_TRTLLM_TOKENIZER_DIR", self.tokenizer_dir),
        ):
            if not path.startswith("/"):
                raise ConfigError(f"{variable}={path!r} must be an absolute path")
        self._validate_counts()
        return self

    def _validate_counts(self) -> None:
        for variable, value, least in (
            ("KISEKI_TRTLLM_MAX_BATCH_SIZE", self.max_batch_size, 1),
            ("KISEKI_TRTLLM_MAX_INPUT_LEN", self.max_input_len, 2),
            ("KISEKI_TRTLLM_MAX_OUTPUT_LEN", self.max_output_len, 1),
            ("KISEKI_TRTLLM_MAX_QUEUE_DELAY_US", self.max_queue_delay_us, 0),
            ("KISEKI_TRTLLM_PROCESSING_INSTANCES", self.processing_instances, 1),
            ("KISEKI_TRTLLM_TP_SIZE", self.tensor_parallel, 1),
            ("KISEKI_TRTLLM_SCRATCH_GIB", self.scratch_gib, 1),
            ("KISEKI_TRTLLM_BUILD_MEMORY_GIB", self.build_memory_gib, 1),
        ):
            if value < least:
                raise ConfigError(f"{variable}={value} must be at least {least}")

    def validate_for_build(self) -> TrtllmConfig:
        """The build Job also needs the checkpoint to convert."""
        self.validate()
        if not self.checkpoint_dir.startswith("/"):
            raise ConfigError(
                f"KISEKI_TRTLLM_CHECKPOINT_DIR={self.checkpoint_dir!r} must be set to the"
                " absolute path of the HF checkpoint to convert"
            )
        return self
