"""Sample results that the store decodes itself, from the bytes the results topic holds.

The sink's hot path. Decoding every SampleResult in Python and encoding its fields again for
clickhouse-connect's Native insert held the sink to 25-27k rows/s to the server on the loaded
machine (tools/bench/sink.py; the decode of the 4-shot prompts alone ~5 us a row). Instead
ClickHouse reads the records' own bytes as `ProtobufList`, with a schema made from
SampleResult's descriptor and sent with the insert (`format_schema_source = 'string'`);
Python reads of each sample only its prompt and hash (JobResults.View) to keep the
prompts-once rule, and cuts the prompts' texts out (sending them made the insert ~4x slower:
90 MB against 7 MB for 50k rows). A record is ProtobufList's envelope but for its summary (an
envelope's every field is read as a row), which is cut off its end; the records of one insert
are one envelope, prefixed by its length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from kiseki.core.ids import prompt_hash_of
from kiseki.core.scoring_modes import scoring_mode_name
from kiseki.core.store.base import Encoded
from kiseki.core.store.prompts import KnownPrompts
from kiseki.v1 import events_pb2 as ev

# The samples' fields the store decodes, with their ClickHouse type (the prompt's text goes
# to the prompts table, by its hash).
_TYPES = {
    "job_id": "String", "checkpoint_id": "String", "run_id": "String", "step": "Int64",
    "dataset": "String", "sample_index": "Int64", "raw_output": "String",
    "prediction": "String", "gold": "String", "metrics": "Map(String, Float64)",
    "format_followed": "UInt8", "latency_ms": "Float64", "choice_logprobs": "Array(Float64)",
    "prompt_hash": "String",
    "scoring_mode": "Enum8(" + ", ".join(
        f"'{scoring_mode_name(n)}' = {n}" for n in ev.ScoringMode.values()
    ) + ")",
}  # fmt: skip
# How each sample_results column is computed from them (an unknown mode fails the insert).
SAMPLE_SELECT = {name: name for name in _TYPES} | {
    "scoring_mode": "toString(scoring_mode)",
    "prompt_hash": "reinterpretAsUInt128(prompt_hash)",
}
_PROTO_TYPES = {
    FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_INT64: "int64", FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_BOOL: "bool", FieldDescriptor.TYPE_ENUM: "int32",
}  # fmt: skip


def _proto_field(field: Any) -> str:
    """`field` (a FieldDescriptor) as a line of a .proto file."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields
        kind = f"map<{_PROTO_TYPES[key.type]}, {_PROTO_TYPES[value.type]}>"
    else:
        repeated = "repeated " if field.is_repeated else ""
        kind = repeated + _PROTO_TYPES[field.type]
    return f"{kind} {field.name} = {field.number};"


def _schema() -> str:
    """SampleResult's decoded fields, from its own descriptor, inside ProtobufList's envelope."""
    fields = [f for f in ev.SampleResult.DESCRIPTOR.fields if f.name in _TYPES]
    body = " ".join(_proto_field(f) for f in fields)
    return (
        'syntax = "proto3"; message Envelope { message SampleResult { '
        f"{body} }} repeated SampleResult samples = 1; }}"
    )


SETTINGS = {
    # A ReplacingMergeTree insert otherwise merges its own block's duplicates first; every
    # reader goes through FINAL anyway. 50k rows into the server: 602k rows/s against 505k
    # (8 paired inserts).
    "optimize_on_insert": "0",
    "format_schema_source": "string",
    "format_schema": _schema(),
    "format_schema_message_name": "SampleResult",
}
STRUCTURE = ", ".join(f"{name} {kind}" for name, kind in _TYPES.items())


def _varint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _without_summary(value: bytes, results: ev.JobResults.View) -> bytes:
    """The record's samples: its bytes less the summary, which protobuf writes last."""
    if not results.HasField("summary"):
        return value
    summary = results.summary.SerializeToString()
    tail = b"\x12" + _varint(len(summary)) + summary
    if value.endswith(tail):
        return value[: len(value) - len(tail)]
    return ev.JobResults.View(samples=results.samples).SerializeToString()


def record_samples(
    view: ev.JobResults.View,
    value: bytes,
    known: KnownPrompts,
    new: dict[bytes, str],
    by_hash: bool = False,
) -> bytes:
    """A results record's samples as the store decodes them: without their prompts' texts,
    each with its text's hash. A text is read (its UTF-8 checked, its hash computed) only
    when the sample's hash is new to `known` (or missing, from an older runner); then it
    goes into `new`. `view` is the record `value` parsed; its texts are cut out, so a view
    handled again (a batch retried record by record) is read again from `value`. A sample
    with a hash and no text (a runner publishes texts on the prompts topic) keeps its hash.
    `by_hash`: its producer says every sample is such (kafka.TEXTS_HEADER), and the samples
    are not looked at (0.51 against 0.19 us a row with the parse, 1,000-sample records)."""
    if by_hash and value:
        return _without_summary(value, view)
    seen = known.keys
    for sample in view.samples:
        digest = sample.prompt_hash
        if digest not in seen and digest not in new:
            text = sample.prompt
            if not text and digest:
                if value:  # handled before, its texts cut: read again
                    return record_samples(ev.JobResults.View.FromString(value), b"", known, new)
                continue  # sent without its text: that is on the prompts topic
            digest = prompt_hash_of(text)
            if digest != sample.prompt_hash:
                sample.prompt_hash = digest
            if digest not in seen:
                new[digest] = text.decode()
        sample.prompt = b""  # not written when empty; 1.6x the speed of ClearField (paired)
    return _without_summary(view.SerializeToString(), view)


def encoded_samples(parts: Sequence[bytes], rows: int) -> Encoded:
    """Records' samples (record_samples) as one insert of `rows` sample rows."""
    data = b"".join([_varint(sum(len(p) for p in parts)), *parts]) if rows else b""
    return Encoded(data, "ProtobufList", STRUCTURE, SAMPLE_SELECT, SETTINGS, rows)
