import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoringMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCORING_MODE_UNSPECIFIED: _ClassVar[ScoringMode]
    SCORING_MODE_GENERATE: _ClassVar[ScoringMode]
    SCORING_MODE_LOGLIKELIHOOD: _ClassVar[ScoringMode]
    SCORING_MODE_GOLD: _ClassVar[ScoringMode]

class CheckpointFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECKPOINT_FORMAT_UNSPECIFIED: _ClassVar[CheckpointFormat]
    CHECKPOINT_FORMAT_HF: _ClassVar[CheckpointFormat]
    CHECKPOINT_FORMAT_HF_TRAINER: _ClassVar[CheckpointFormat]
    CHECKPOINT_FORMAT_MEGATRON: _ClassVar[CheckpointFormat]
    CHECKPOINT_FORMAT_NEMO: _ClassVar[CheckpointFormat]
    CHECKPOINT_FORMAT_DEEPSPEED: _ClassVar[CheckpointFormat]
    CHECKPOINT_FORMAT_MARKER: _ClassVar[CheckpointFormat]

class CheckpointState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECKPOINT_STATE_UNSPECIFIED: _ClassVar[CheckpointState]
    CHECKPOINT_STATE_DISCOVERED: _ClassVar[CheckpointState]
    CHECKPOINT_STATE_DEPLOYING: _ClassVar[CheckpointState]
    CHECKPOINT_STATE_READY: _ClassVar[CheckpointState]
    CHECKPOINT_STATE_EVALUATING: _ClassVar[CheckpointState]
    CHECKPOINT_STATE_DONE: _ClassVar[CheckpointState]
    CHECKPOINT_STATE_FAILED: _ClassVar[CheckpointState]
    CHECKPOINT_STATE_CONVERTING: _ClassVar[CheckpointState]
SCORING_MODE_UNSPECIFIED: ScoringMode
SCORING_MODE_GENERATE: ScoringMode
SCORING_MODE_LOGLIKELIHOOD: ScoringMode
SCORING_MODE_GOLD: ScoringMode
CHECKPOINT_FORMAT_UNSPECIFIED: CheckpointFormat
CHECKPOINT_FORMAT_HF: CheckpointFormat
CHECKPOINT_FORMAT_HF_TRAINER: CheckpointFormat
CHECKPOINT_FORMAT_MEGATRON: CheckpointFormat
CHECKPOINT_FORMAT_NEMO: CheckpointFormat
CHECKPOINT_FORMAT_DEEPSPEED: CheckpointFormat
CHECKPOINT_FORMAT_MARKER: CheckpointFormat
CHECKPOINT_STATE_UNSPECIFIED: CheckpointState
CHECKPOINT_STATE_DISCOVERED: CheckpointState
CHECKPOINT_STATE_DEPLOYING: CheckpointState
CHECKPOINT_STATE_READY: CheckpointState
CHECKPOINT_STATE_EVALUATING: CheckpointState
CHECKPOINT_STATE_DONE: CheckpointState
CHECKPOINT_STATE_FAILED: CheckpointState
CHECKPOINT_STATE_CONVERTING: CheckpointState

class CheckpointDiscovered(_message.Message):
    __slots__ = ("checkpoint_id", "run_id", "step", "tokens_seen", "uri", "format", "size_bytes", "model_size", "metadata", "discovered_at", "tokenizer_uri")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOKENS_SEEN_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MODEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DISCOVERED_AT_FIELD_NUMBER: _ClassVar[int]
    TOKENIZER_URI_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    run_id: str
    step: int
    tokens_seen: int
    uri: str
    format: CheckpointFormat
    size_bytes: int
    model_size: str
    metadata: _containers.ScalarMap[str, str]
    discovered_at: _timestamp_pb2.Timestamp
    tokenizer_uri: str
    def __init__(self, checkpoint_id: _Optional[str] = ..., run_id: _Optional[str] = ..., step: _Optional[int] = ..., tokens_seen: _Optional[int] = ..., uri: _Optional[str] = ..., format: _Optional[_Union[CheckpointFormat, str]] = ..., size_bytes: _Optional[int] = ..., model_size: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., discovered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tokenizer_uri: _Optional[str] = ...) -> None: ...

class EvaluationJob(_message.Message):
    __slots__ = ("job_id", "checkpoint_id", "run_id", "step", "endpoint", "model_name", "dataset", "shard_index", "shard_count", "scoring_mode", "num_few_shots", "max_new_tokens", "suite", "settings", "serving_backend", "dtype", "served_checkpoint")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SHARD_INDEX_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    SCORING_MODE_FIELD_NUMBER: _ClassVar[int]
    NUM_FEW_SHOTS_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    SERVING_BACKEND_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SERVED_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    checkpoint_id: str
    run_id: str
    step: int
    endpoint: str
    model_name: str
    dataset: str
    shard_index: int
    shard_count: int
    scoring_mode: ScoringMode
    num_few_shots: int
    max_new_tokens: int
    suite: str
    settings: EvaluationSettings
    serving_backend: str
    dtype: str
    served_checkpoint: str
    def __init__(self, job_id: _Optional[str] = ..., checkpoint_id: _Optional[str] = ..., run_id: _Optional[str] = ..., step: _Optional[int] = ..., endpoint: _Optional[str] = ..., model_name: _Optional[str] = ..., dataset: _Optional[str] = ..., shard_index: _Optional[int] = ..., shard_count: _Optional[int] = ..., scoring_mode: _Optional[_Union[ScoringMode, str]] = ..., num_few_shots: _Optional[int] = ..., max_new_tokens: _Optional[int] = ..., suite: _Optional[str] = ..., settings: _Optional[_Union[EvaluationSettings, _Mapping]] = ..., serving_backend: _Optional[str] = ..., dtype: _Optional[str] = ..., served_checkpoint: _Optional[str] = ...) -> None: ...

class EvaluationSettings(_message.Message):
    __slots__ = ("data_type", "max_num_samples", "num_few_shots", "few_shots_forced", "output_length_delta", "postprocess", "default_answer_extract_pattern", "answer_extract_pattern", "answer_pattern_id", "prompt_template", "custom_prompt_template", "custom_fewshots_template")
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    MAX_NUM_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    NUM_FEW_SHOTS_FIELD_NUMBER: _ClassVar[int]
    FEW_SHOTS_FORCED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_LENGTH_DELTA_FIELD_NUMBER: _ClassVar[int]
    POSTPROCESS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ANSWER_EXTRACT_PATTERN_FIELD_NUMBER: _ClassVar[int]
    ANSWER_EXTRACT_PATTERN_FIELD_NUMBER: _ClassVar[int]
    ANSWER_PATTERN_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FEWSHOTS_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    data_type: str
    max_num_samples: int
    num_few_shots: int
    few_shots_forced: bool
    output_length_delta: int
    postprocess: str
    default_answer_extract_pattern: str
    answer_extract_pattern: str
    answer_pattern_id: str
    prompt_template: str
    custom_prompt_template: str
    custom_fewshots_template: str
    def __init__(self, data_type: _Optional[str] = ..., max_num_samples: _Optional[int] = ..., num_few_shots: _Optional[int] = ..., few_shots_forced: _Optional[bool] = ..., output_length_delta: _Optional[int] = ..., postprocess: _Optional[str] = ..., default_answer_extract_pattern: _Optional[str] = ..., answer_extract_pattern: _Optional[str] = ..., answer_pattern_id: _Optional[str] = ..., prompt_template: _Optional[str] = ..., custom_prompt_template: _Optional[str] = ..., custom_fewshots_template: _Optional[str] = ...) -> None: ...

class SampleResult(_message.Message):
    __slots__ = ("job_id", "checkpoint_id", "run_id", "step", "dataset", "sample_index", "scoring_mode", "prompt", "raw_output", "prediction", "gold", "metrics", "format_followed", "latency_ms", "choice_logprobs", "prompt_hash")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_INDEX_FIELD_NUMBER: _ClassVar[int]
    SCORING_MODE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    RAW_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    GOLD_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FOLLOWED_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    CHOICE_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_HASH_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    checkpoint_id: str
    run_id: str
    step: int
    dataset: str
    sample_index: int
    scoring_mode: ScoringMode
    prompt: str
    raw_output: str
    prediction: str
    gold: str
    metrics: _containers.ScalarMap[str, float]
    format_followed: bool
    latency_ms: float
    choice_logprobs: _containers.RepeatedScalarFieldContainer[float]
    prompt_hash: bytes
    def __init__(self, job_id: _Optional[str] = ..., checkpoint_id: _Optional[str] = ..., run_id: _Optional[str] = ..., step: _Optional[int] = ..., dataset: _Optional[str] = ..., sample_index: _Optional[int] = ..., scoring_mode: _Optional[_Union[ScoringMode, str]] = ..., prompt: _Optional[str] = ..., raw_output: _Optional[str] = ..., prediction: _Optional[str] = ..., gold: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., format_followed: _Optional[bool] = ..., latency_ms: _Optional[float] = ..., choice_logprobs: _Optional[_Iterable[float]] = ..., prompt_hash: _Optional[bytes] = ...) -> None: ...

class PromptText(_message.Message):
    __slots__ = ("prompt_hash", "text")
    PROMPT_HASH_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    prompt_hash: bytes
    text: str
    def __init__(self, prompt_hash: _Optional[bytes] = ..., text: _Optional[str] = ...) -> None: ...

class JobSummary(_message.Message):
    __slots__ = ("job_id", "checkpoint_id", "run_id", "step", "dataset", "scoring_mode", "shard_index", "shard_count", "num_samples", "scores", "failed", "error", "duration_s", "settings_digest", "prompt_digest", "kiseki_version", "serving_backend", "dtype")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SCORING_MODE_FIELD_NUMBER: _ClassVar[int]
    SHARD_INDEX_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    NUM_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    PROMPT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    KISEKI_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVING_BACKEND_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    checkpoint_id: str
    run_id: str
    step: int
    dataset: str
    scoring_mode: ScoringMode
    shard_index: int
    shard_count: int
    num_samples: int
    scores: _containers.ScalarMap[str, float]
    failed: bool
    error: str
    duration_s: float
    settings_digest: str
    prompt_digest: str
    kiseki_version: str
    serving_backend: str
    dtype: str
    def __init__(self, job_id: _Optional[str] = ..., checkpoint_id: _Optional[str] = ..., run_id: _Optional[str] = ..., step: _Optional[int] = ..., dataset: _Optional[str] = ..., scoring_mode: _Optional[_Union[ScoringMode, str]] = ..., shard_index: _Optional[int] = ..., shard_count: _Optional[int] = ..., num_samples: _Optional[int] = ..., scores: _Optional[_Mapping[str, float]] = ..., failed: _Optional[bool] = ..., error: _Optional[str] = ..., duration_s: _Optional[float] = ..., settings_digest: _Optional[str] = ..., prompt_digest: _Optional[str] = ..., kiseki_version: _Optional[str] = ..., serving_backend: _Optional[str] = ..., dtype: _Optional[str] = ...) -> None: ...

class JobResults(_message.Message):
    __slots__ = ("samples", "summary")
    class View(_message.Message):
        __slots__ = ("samples", "summary")
        class Sample(_message.Message):
            __slots__ = ("job_id", "sample_index", "prompt", "prompt_hash")
            JOB_ID_FIELD_NUMBER: _ClassVar[int]
            SAMPLE_INDEX_FIELD_NUMBER: _ClassVar[int]
            PROMPT_FIELD_NUMBER: _ClassVar[int]
            PROMPT_HASH_FIELD_NUMBER: _ClassVar[int]
            job_id: str
            sample_index: int
            prompt: bytes
            prompt_hash: bytes
            def __init__(self, job_id: _Optional[str] = ..., sample_index: _Optional[int] = ..., prompt: _Optional[bytes] = ..., prompt_hash: _Optional[bytes] = ...) -> None: ...
        SAMPLES_FIELD_NUMBER: _ClassVar[int]
        SUMMARY_FIELD_NUMBER: _ClassVar[int]
        samples: _containers.RepeatedCompositeFieldContainer[JobResults.View.Sample]
        summary: JobSummary
        def __init__(self, samples: _Optional[_Iterable[_Union[JobResults.View.Sample, _Mapping]]] = ..., summary: _Optional[_Union[JobSummary, _Mapping]] = ...) -> None: ...
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[SampleResult]
    summary: JobSummary
    def __init__(self, samples: _Optional[_Iterable[_Union[SampleResult, _Mapping]]] = ..., summary: _Optional[_Union[JobSummary, _Mapping]] = ...) -> None: ...

class CheckpointStatus(_message.Message):
    __slots__ = ("checkpoint_id", "run_id", "step", "state", "reason", "source", "changed_at", "request", "regression")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    REGRESSION_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    run_id: str
    step: int
    state: CheckpointState
    reason: str
    source: str
    changed_at: _timestamp_pb2.Timestamp
    request: EvaluationRequest
    regression: Regression
    def __init__(self, checkpoint_id: _Optional[str] = ..., run_id: _Optional[str] = ..., step: _Optional[int] = ..., state: _Optional[_Union[CheckpointState, str]] = ..., reason: _Optional[str] = ..., source: _Optional[str] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request: _Optional[_Union[EvaluationRequest, _Mapping]] = ..., regression: _Optional[_Union[Regression, _Mapping]] = ...) -> None: ...

class Regression(_message.Message):
    __slots__ = ("dataset", "scoring_mode", "against", "against_step", "score", "against_score", "delta", "p_value", "fell", "fell_samples")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SCORING_MODE_FIELD_NUMBER: _ClassVar[int]
    AGAINST_FIELD_NUMBER: _ClassVar[int]
    AGAINST_STEP_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    AGAINST_SCORE_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    FELL_FIELD_NUMBER: _ClassVar[int]
    FELL_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    scoring_mode: ScoringMode
    against: str
    against_step: int
    score: float
    against_score: float
    delta: float
    p_value: float
    fell: int
    fell_samples: str
    def __init__(self, dataset: _Optional[str] = ..., scoring_mode: _Optional[_Union[ScoringMode, str]] = ..., against: _Optional[str] = ..., against_step: _Optional[int] = ..., score: _Optional[float] = ..., against_score: _Optional[float] = ..., delta: _Optional[float] = ..., p_value: _Optional[float] = ..., fell: _Optional[int] = ..., fell_samples: _Optional[str] = ...) -> None: ...

class EvaluationRequest(_message.Message):
    __slots__ = ("suites", "scoring_modes")
    SUITES_FIELD_NUMBER: _ClassVar[int]
    SCORING_MODES_FIELD_NUMBER: _ClassVar[int]
    suites: _containers.RepeatedScalarFieldContainer[str]
    scoring_modes: _containers.RepeatedScalarFieldContainer[ScoringMode]
    def __init__(self, suites: _Optional[_Iterable[str]] = ..., scoring_modes: _Optional[_Iterable[_Union[ScoringMode, str]]] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("topic", "partition", "offset", "key", "value", "headers", "error", "consumer_group", "failed_at")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: _containers.ScalarMap[str, str]
    error: str
    consumer_group: str
    failed_at: _timestamp_pb2.Timestamp
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., key: _Optional[bytes] = ..., value: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., error: _Optional[str] = ..., consumer_group: _Optional[str] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
