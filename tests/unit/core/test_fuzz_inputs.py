"""Fuzzing the two parsers that take outside bytes: message decoding and the dataset loader.
Whatever comes in, the result is a value or the boundary's own error (which its caller turns
into a dead letter or a FAILED job), never another exception. Bounded: a fixed number of
examples, no deadline per example, so the run takes seconds."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiseki.core.kafka import TYPE_HEADER, decode
from kiseki.evaluation.datasets import DatasetError, read_dataset_file
from kiseki.v1 import events_pb2 as ev

BOUNDED = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TYPES = st.sampled_from([ev.EvaluationJob, ev.JobResults, ev.CheckpointStatus, ev.DeadLetter])
VALID_JOB = ev.EvaluationJob(job_id="j", checkpoint_id="c", dataset="d").SerializeToString()


def _record(value: bytes | None, headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", 0, 0, 0, 0, b"k", value, None, 1, 1, headers)


@BOUNDED
@given(
    value=st.one_of(
        st.none(),
        st.binary(max_size=512),
        st.binary(max_size=64).map(lambda tail: VALID_JOB + tail),  # valid, then garbage
    ),
    declared=st.one_of(st.none(), st.binary(max_size=40), st.just(b"kiseki.v1.EvaluationJob")),
    message_type=TYPES,
)
def test_decoding_any_bytes_gives_a_message_or_a_value_error(
    value: bytes | None, declared: bytes | None, message_type: Any
) -> None:
    headers = [] if declared is None else [(TYPE_HEADER, declared)]
    reason = None
    try:
        delivery = decode(_record(value, headers), message_type)
    except ValueError as error:
        reason = str(error)
    else:
        assert isinstance(delivery.message, message_type)
    assert reason is None or reason  # an error says why


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["instruction", "output_length", "metrics", "samples", "label_list", "few_shots"]
DATASET_LIKE = st.fixed_dictionaries(
    {}, optional={name: JSON for name in FIELDS} | {"num_few_shots": JSON}
)


@BOUNDED
@given(document=st.one_of(JSON, DATASET_LIKE), raw=st.binary(max_size=64))
def test_loading_any_file_gives_a_dataset_or_a_dataset_error(document: Any, raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        for content in (json.dumps(document).encode(), raw):
            path = Path(directory) / "fuzz.json"
            path.write_bytes(content)
            reason = None
            try:
                dataset = read_dataset_file(path)
            except DatasetError as error:
                reason = str(error)
            else:
                assert all(isinstance(s.output, str) for s in dataset.samples)
            assert reason is None or str(path) in reason  # an error names the file
