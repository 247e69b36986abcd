from kiseki.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Run(_message.Message):
    __slots__ = ("run_id", "model_size", "num_checkpoints", "latest_step", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    NUM_CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    LATEST_STEP_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    model_size: str
    num_checkpoints: int
    latest_step: int
    tags: _containers.ScalarMap[str, str]
    def __init__(self, run_id: _Optional[str] = ..., model_size: _Optional[str] = ..., num_checkpoints: _Optional[int] = ..., latest_step: _Optional[int] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[Run, _Mapping]]] = ...) -> None: ...

class ListCheckpointsRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class CheckpointSummary(_message.Message):
    __slots__ = ("checkpoint", "status")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    checkpoint: _events_pb2.CheckpointDiscovered
    status: _events_pb2.CheckpointStatus
    def __init__(self, checkpoint: _Optional[_Union[_events_pb2.CheckpointDiscovered, _Mapping]] = ..., status: _Optional[_Union[_events_pb2.CheckpointStatus, _Mapping]] = ...) -> None: ...

class ListCheckpointsResponse(_message.Message):
    __slots__ = ("checkpoints",)
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    checkpoints: _containers.RepeatedCompositeFieldContainer[CheckpointSummary]
    def __init__(self, checkpoints: _Optional[_Iterable[_Union[CheckpointSummary, _Mapping]]] = ...) -> None: ...

class GetCheckpointStatusRequest(_message.Message):
    __slots__ = ("checkpoint_id",)
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    def __init__(self, checkpoint_id: _Optional[str] = ...) -> None: ...

class RequestEvaluationRequest(_message.Message):
    __slots__ = ("run_id", "steps", "suites", "scoring_modes")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SUITES_FIELD_NUMBER: _ClassVar[int]
    SCORING_MODES_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    steps: _containers.RepeatedScalarFieldContainer[int]
    suites: _containers.RepeatedScalarFieldContainer[str]
    scoring_modes: _containers.RepeatedScalarFieldContainer[_events_pb2.ScoringMode]
    def __init__(self, run_id: _Optional[str] = ..., steps: _Optional[_Iterable[int]] = ..., suites: _Optional[_Iterable[str]] = ..., scoring_modes: _Optional[_Iterable[_Union[_events_pb2.ScoringMode, str]]] = ...) -> None: ...

class RequestEvaluationResponse(_message.Message):
    __slots__ = ("checkpoint_ids", "in_flight")
    CHECKPOINT_IDS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    checkpoint_ids: _containers.RepeatedScalarFieldContainer[str]
    in_flight: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, checkpoint_ids: _Optional[_Iterable[str]] = ..., in_flight: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchStatusRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...
