"""Every boundary, fed its bad inputs: each gives an error that says what is wrong, of the
kind its caller turns into a dead letter, a FAILED status or a refusal, never a crash.

Boundary → what its caller does with the error:
- message decoding (ValueError) → the record goes to the dead-letter topic (the Kafka side,
  oversized records included, is in test_dead_letters.py);
- dataset files and names (DatasetError, a ValueError) → the job is reported FAILED;
- checkpoint files (Incomplete) → not published; FAILED after the incomplete timeout;
- checkpoint paths in messages (CheckpointRoots) → the checkpoint is FAILED with the reason;
- configuration (PolicyError, RunsFileError, ConfigError) → the service refuses to start;
- SQL (StoreError) → the caller sees ClickHouse's message.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from kiseki.core.config import ConfigError, load_config
from kiseki.core.kafka import TYPE_HEADER, decode
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.store import Store, StoreError
from kiseki.evaluation.datasets import DatasetError, load_dataset
from kiseki.orchestrator.policy import PolicyError, parse_policies
from kiseki.orchestrator.roots import CheckpointRoots
from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.completeness import Incomplete, check_hf_weights, check_safetensors, fingerprint
from kiseki.watcher.runs import RunsFileError, parse_runs
from support.checkpoints import safetensors_bytes

Case = Callable[[Path], object]


def _record(value: bytes | None, declared: str = "kiseki.v1.EvaluationJob") -> object:
    headers = [(TYPE_HEADER, declared.encode())]
    return ConsumerRecord("kiseki.jobs", 0, 7, 0, 0, b"k", value, None, 1, 1, headers)


def _decode(value: bytes | None, declared: str = "kiseki.v1.EvaluationJob") -> Case:
    return lambda _: decode(_record(value, declared), ev.EvaluationJob)


def _dataset(document: object, name: str = "bad") -> Case:
    def load(root: Path) -> object:
        (root / "test").mkdir(exist_ok=True)
        (root / "test" / f"{name}.json").write_text(json.dumps(document))
        return load_dataset(root, name)

    return load


GOOD = {"instruction": "i", "output_length": 2, "metrics": ["exact_match"], "samples": []}


def _safetensors(data: bytes) -> Case:
    def check(root: Path) -> object:
        (root / "model.safetensors").write_bytes(data)
        check_safetensors(root / "model.safetensors")
        return None

    return check


def _missing_shard(root: Path) -> object:
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    index = {"weight_map": {"a": names[0], "b": names[1]}}
    (root / "config.json").write_text("{}")
    (root / "model.safetensors.index.json").write_text(json.dumps(index))
    (root / names[0]).write_bytes(safetensors_bytes())
    check_hf_weights(root)
    return None


def _escaping_link(root: Path) -> object:
    (root / "run" / "checkpoint-1").mkdir(parents=True)
    (root / "secret").write_text("x")
    (root / "run" / "checkpoint-1" / "model.safetensors").symlink_to(root / "secret")
    return fingerprint(root / "run" / "checkpoint-1", root / "run")


def _link_loop(root: Path) -> object:
    (root / "run" / "checkpoint-1").mkdir(parents=True)
    (root / "run" / "checkpoint-1" / "loop").symlink_to(root / "run" / "checkpoint-1" / "loop")
    return fingerprint(root / "run" / "checkpoint-1", root / "run")


def _refused(uri: str, roots: tuple[str, ...] = ("ROOT/run",)) -> Case:
    def check(root: Path) -> object:
        (root / "run").mkdir(exist_ok=True)
        (root / "run" / "escape").symlink_to(root)
        allowed = tuple(r.replace("ROOT", str(root)) for r in roots)
        refusal = CheckpointRoots(allowed).refusal(uri.replace("ROOT", str(root)))
        if refusal:
            raise PermissionError(refusal)
        return None

    return check


CASES = [
    # Protobuf messages (→ dead-letter topic).
    ("garbage bytes", _decode(b"\xff\xff\xff"), ValueError, "not a valid kiseki.v1.EvaluationJob"),
    ("truncated message", _decode(ev.EvaluationJob(job_id="j" * 40).SerializeToString()[:10]),
     ValueError, "not a valid"),
    ("wrong type", _decode(b"", "kiseki.v1.CheckpointStatus"), ValueError, "declares type"),
    ("no value (tombstone)", _decode(None), ValueError, "record has no value"),
    # Datasets (→ the job FAILED with the reason).
    ("dataset missing a field", _dataset({"instruction": "i"}), DatasetError,
     "missing field 'metrics'"),
    ("dataset field of a wrong type", _dataset({**GOOD, "output_length": "2"}), DatasetError,
     "'output_length' must be int, got str"),
    ("sample that is not an object", _dataset({**GOOD, "samples": ["x"]}), DatasetError,
     r"samples\[0\] must be an object"),
    ("sample output not a string", _dataset({**GOOD, "samples": [{"input": "a", "output": 1}]}),
     DatasetError, r"samples\[0\].output must be a string"),
    ("dataset not an object", _dataset([1, 2]), DatasetError, "JSON object at the top level"),
    ("dataset name that is a path", lambda root: load_dataset(root, "../../etc/passwd"),
     DatasetError, "not a plain name"),
    ("dataset that does not exist", lambda root: load_dataset(root, "nope"), DatasetError,
     "no such dataset file"),
    # Checkpoint files (→ never published as complete; FAILED after the timeout).
    ("safetensors header past the end", _safetensors(struct.pack("<Q", 10**6) + b"{}"),
     Incomplete, "header runs past the end"),
    ("safetensors header not JSON", _safetensors(struct.pack("<Q", 4) + b"{{{{"), Incomplete,
     "not a safetensors header"),
    ("safetensors shorter than a header", _safetensors(b"\x01\x02"), Incomplete,
     "shorter than a safetensors header"),
    ("safetensors with trailing bytes", _safetensors(safetensors_bytes() + b"junk"), Incomplete,
     "bytes more than its header describes"),
    ("a shard missing", _missing_shard, Incomplete, "model-00002-of-00002"),
    ("file linking out of the run root", _escaping_link, Incomplete,
     "links outside the run root"),
    ("symlink loop", _link_loop, Incomplete, "loop links outside the run root"),
    # Checkpoint paths from messages (→ FAILED with the reason).
    ("checkpoint outside the roots", _refused("/etc"), PermissionError,
     "resolves outside the configured roots"),
    ("checkpoint escaping by a link", _refused("ROOT/run/escape/other"), PermissionError,
     "resolves outside the configured roots"),
    ("checkpoint escaping by ..", _refused("ROOT/run/../other"), PermissionError,
     "resolves outside the configured roots"),
    ("relative checkpoint path", _refused("run/x"), PermissionError, "not an absolute path"),
    ("object store outside its prefix", _refused("s3://other/x", ("s3://ckpt/run",)),
     PermissionError, "outside the configured roots"),
    # Configuration (→ the service does not start, naming the key or variable).
    ("policy with an unknown key", lambda _: parse_policies({"bugdet": {}}, "p.json"),
     PolicyError, r"unknown keys \['bugdet'\]"),
    ("run policy with an unknown key",
     lambda _: parse_policies({"runs": {"*": {"suites": ["x"], "shard": 2}}}, "p.json"),
     PolicyError, "shard"),
    ("runs file with an unknown key",
     lambda root: parse_runs([{"run_id": "r", "root": ".", "tokens": 1}], root / "runs.json"),
     RunsFileError, "unknown key 'tokens'"),
    ("setting that does not parse",
     lambda _: load_config(KafkaConfig, {"KISEKI_KAFKA_BOOTSTRAP": "h:1",
                                         "KISEKI_KAFKA_MAX_MESSAGE_BYTES": "1MB"}),
     ConfigError, "KISEKI_KAFKA_MAX_MESSAGE_BYTES='1MB'"),
    ("required setting missing", lambda _: load_config(KafkaConfig, {}), ConfigError,
     "KISEKI_KAFKA_BOOTSTRAP is required"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("feed", "error", "message"),
    [pytest.param(feed, error, message, id=name) for name, feed, error, message in CASES],
)
def test_bad_input_gets_a_clear_error(
    feed: Case, error: type[Exception], message: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=message):
        feed(tmp_path)


def test_the_paths_the_roots_allow(tmp_path: Path) -> None:
    (tmp_path / "run" / "checkpoint-1").mkdir(parents=True)
    roots = CheckpointRoots((str(tmp_path / "run"), "s3://ckpt/run"))
    assert roots.refusal(str(tmp_path / "run" / "checkpoint-1")) == ""
    assert roots.refusal("s3://ckpt/run/checkpoint-1") == ""
    assert roots.refusal("s3://ckpt/run-other/checkpoint-1") != ""
    assert CheckpointRoots().refusal("/anywhere") == ""  # unset: local development


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", "Syntax error"),
        ("SELECT * FROM no_such_table", "UNKNOWN_TABLE"),
        ("SELECT no_such_column FROM sample_results", "UNKNOWN_IDENTIFIER"),
        ("SELECT {x:Int64}", "x"),  # a parameter the query names but nobody gave
    ],
)
def test_sql_errors_say_what_clickhouse_said(store: Store, sql: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        store.query(sql)
    assert store.query("SELECT 1 AS one") == [{"one": 1}]  # the store still works
