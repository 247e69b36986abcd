"""Every boundary, fed its bad inputs: each gives an error that says what is wrong, of the
kind its caller turns into a dead letter, a FAILED status or a refusal, never a crash.

Boundary → what its caller does with the error:
- message decoding (ValueError) → the record goes to the dead-letter topic (the Kafka side,
  oversized records included, is in test_dead_letters.py);
- dataset files and names (DatasetError, a ValueError) → the job is reported FAILED;
- checkpoint files (Incomplete) → not published; FAILED after the incomplete timeout;
- checkpoint paths in messages (CheckpointRoots) → the checkpoint is FAILED with the reason;
- framework checkpoints of Megatron-LM, NeMo 2 and DeepSpeed (ConversionError) → the
  checkpoint is FAILED with the converter's reason;
- configuration (PolicyError, RunsFileError, ConfigError) → the service refuses to start;
- job settings on the wire (SettingsError, a ValueError) → the job is reported FAILED;
- prompt dumps (DumpError) and a COMET model directory (MetricUnavailable) → the command or
  the task-runner refuses to start, before anything is generated;
- SQL (StoreError) → the caller sees ClickHouse's message.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from kiseki.conversion.hf_writer import ConversionError
from kiseki.core.config import ConfigError, load_config
from kiseki.core.eval_settings import job_settings
from kiseki.core.kafka import TYPE_HEADER, decode
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.store import Store, StoreError
from kiseki.evaluation.datasets import DatasetError, load_dataset
from kiseki.evaluation.metrics import MetricUnavailable
from kiseki.evaluation.prompt_dumps import DumpError, read_prompt_dump
from kiseki.evaluation.settings import SettingsError
from kiseki.orchestrator.policy import PolicyError, parse_policies
from kiseki.orchestrator.policy_file import load_policies
from kiseki.orchestrator.roots import CheckpointRoots
from kiseki.runner.plugins import comet_checkpoint
from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.completeness import Incomplete, check_hf_weights, check_safetensors, fingerprint
from kiseki.watcher.runs import RunsFileError, parse_runs
from support.checkpoints import safetensors_bytes
from support.damaged import ITER, cut, deepspeed, fewer_rows, megatron, metadata_column_short, nemo2

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


def _yaml(text: str) -> Case:
    """An llm-jp-eval configuration (config_base.yaml) given as the policy file."""

    def load(root: Path) -> object:
        (root / "config_base.yaml").write_text(f'target_dataset: ["jnli"]\n{text}')
        return load_policies(root / "config_base.yaml")

    return load


def _datasets(entries: object) -> Case:
    run = {"suites": ["jnli"], "datasets": entries}
    return lambda _: parse_policies({"runs": {"*": run}}, "p.json")


DUMP = {"target_dataset": "jnli", "output_length": 3, "samples": [{"prompt": "p", "gold": "g"}]}


def _dump(document: dict[str, object]) -> Case:
    def read(root: Path) -> object:
        (root / "jnli.eval-prompt.json").write_text(json.dumps(document))
        return read_prompt_dump(root / "jnli.eval-prompt.json")

    return read


def _job_settings(**wire: str) -> Case:
    settings = ev.EvaluationSettings(
        data_type="test", max_num_samples=-1, postprocess="llm-jp-eval-1.4", prompt_template="v1"
    )
    for key, value in wire.items():
        setattr(settings, key, value)
    return lambda _: job_settings(ev.EvaluationJob(job_id="j", settings=settings))


def _comet(files: tuple[str, ...]) -> Case:
    def check(root: Path) -> object:
        for name in files:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text("x")
        return comet_checkpoint(root)

    return check


def _latest_names(step: str) -> Callable[[Path], Path]:
    def damage(root: Path) -> Path:
        (root / "latest").write_text(step)
        return root / step

    return damage


def _emptied(step: str) -> Callable[[Path], Path]:
    def damage(root: Path) -> Path:
        (root / "latest").write_text(step)
        (root / step).mkdir()
        return root / step

    return damage


def _cut_file(relative: str, keep: float = 0.5) -> Callable[[Path], Path]:
    def damage(root: Path) -> Path:
        cut(root / relative, keep)
        parent = (root / relative).parent
        return parent.parent if parent.name.startswith("mp_rank_") else parent

    return damage


def _removed(relative: str) -> Callable[[Path], Path]:
    def damage(root: Path) -> Path:
        (root / relative).unlink()
        return (root / relative).parent

    return damage


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
    # Framework checkpoints, written by Megatron-Core and DeepSpeed, then damaged
    # (→ the checkpoint FAILED with the reason; nothing half-written is left to serve).
    ("torch_dist data file cut short",
     megatron("megatron-gpt-tp1/torch_dist", _cut_file(f"{ITER}/__0_0.distcp")),
     ConversionError, r"__0_0\.distcp is cut short: \d+ bytes, \.metadata needs 571281"),
    ("torch_dist data file missing",
     megatron("megatron-gpt-tp2/torch_dist", _removed(f"{ITER}/__1_0.distcp")),
     ConversionError, r"__1_0\.distcp is missing \(named by .*\.metadata\)"),
    ("torch_dist .metadata cut short",
     megatron("megatron-gpt-tp1/torch_dist", _cut_file(f"{ITER}/.metadata", 0.1)),
     ConversionError, r"\.metadata cannot be read"),
    ("torch_dist .metadata disagreeing with the args",
     megatron("megatron-gpt-tp1/torch_dist", metadata_column_short("linear_fc2.weight")),
     ConversionError, r"'decoder\.layers\.0\.mlp\.linear_fc2\.weight' has shape \(64, 255\),"
     r" the args say \(64, 256\)"),
    ("legacy tensor-parallel shard cut short",
     megatron("megatron-gpt-tp2/legacy", _cut_file(f"{ITER}/mp_rank_01/model_optim_rng.pt")),
     ConversionError, r"mp_rank_01/model_optim_rng\.pt cannot be read"),
    ("legacy shards of mismatched shapes",
     megatron("megatron-llama-tp2/legacy", fewer_rows("decoder.layers.0.mlp.linear_fc1.weight")),
     ConversionError, r"'decoder\.layers\.0\.mlp\.linear_fc1\.weight' has shape \(254, 64\),"
     r" the args say \(256, 64\)"),
    ("NeMo 2 weights data file cut short", nemo2(lambda c: cut(c / "weights" / "__0_0.distcp")),
     ConversionError, r"__0_0\.distcp is cut short: \d+ bytes, \.metadata needs \d+"),
    ("NeMo 2 model.yaml without its config",
     nemo2(lambda c: (c / "context" / "model.yaml").write_text("model: {}\n")),
     ConversionError, r"model\.yaml has no model 'config' mapping"),
    ("NeMo 2 checkpoint without its context", nemo2(lambda c: shutil.rmtree(c / "context")),
     ConversionError, r"run/context is missing \(a NeMo 2 checkpoint has weights/, context/\)"),
    ("DeepSpeed latest naming a missing step", deepspeed(_latest_names("global_step2")),
     ConversionError, r"checkpoint directory .*/global_step2 does not exist"),
    ("DeepSpeed step without its rank files", deepspeed(_emptied("global_step2")),
     ConversionError, r"can't find \*_model_states\.pt files"),
    ("DeepSpeed model states cut short",
     deepspeed(_cut_file("global_step1/mp_rank_00_model_states.pt")),
     ConversionError, r"mp_rank_00_model_states\.pt is cut short or not a torch\.save file"),
    ("DeepSpeed optimizer states cut short",
     deepspeed(_cut_file("global_step1/zero_pp_rank_0_mp_rank_00_optim_states.pt")),
     ConversionError, r"zero_pp_rank_0_mp_rank_00_optim_states\.pt is cut short"),
    ("DeepSpeed optimizer states missing",
     deepspeed(_removed("global_step1/zero_pp_rank_0_mp_rank_00_optim_states.pt")),
     ConversionError, r"can't find \*_optim_states\.pt files"),
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
    ("llm-jp-eval key misspelt", _yaml("output_legnth_delta: 2\n"), PolicyError,
     r"config_base\.yaml: unknown llm-jp-eval keys \['output_legnth_delta'\]"),
    ("llm-jp-eval metainfo key misspelt", _yaml("metainfo:\n  num_few_shot: 2\n"), PolicyError,
     r"config_base\.yaml: metainfo: unknown llm-jp-eval keys \['num_few_shot'\]"),
    ("llm-jp-eval key of a wrong type", _yaml("metainfo:\n  num_few_shots: four\n"),
     PolicyError, r"num_few_shots: expected an integer ≥ 0, got 'four'"),
    ("llm-jp-eval pattern that does not compile",
     _yaml("default_answer_extract_pattern: '(('\n"), PolicyError,
     "default_answer_extract_pattern: not a regular expression"),
    ("llm-jp-eval YAML that does not parse", _yaml("metainfo: [1,\n"), PolicyError,
     "config_base.yaml: while parsing"),
    ("policy datasets as a list", _datasets(["jnli"]), PolicyError,
     r"runs\.\*\.datasets: expected an object of dataset: settings"),
    ("policy datasets entry not an object", _datasets({"jnli": "v2"}), PolicyError,
     r"runs\.\*\.datasets\.jnli: expected an object of settings"),
    ("policy datasets setting misspelt", _datasets({"jnli": {"num_few_shot": 2}}), PolicyError,
     r"runs\.\*\.datasets\.jnli: unknown keys \['num_few_shot'\]"),
    ("policy datasets setting of a wrong type", _datasets({"jnli": {"num_few_shots": "2"}}),
     PolicyError, r"datasets\.jnli\.num_few_shots: expected an integer ≥ 0, got '2'"),
    ("policy datasets naming no suite", _datasets({"jsquad": {}}), PolicyError,
     r"\['jsquad'\] are not among the suites"),
    # Jobs on the wire (→ the job FAILED naming the setting, not dead-lettered mid-job).
    ("job pattern that does not compile", _job_settings(answer_extract_pattern="(("),
     SettingsError, r"job j settings\.answer_extract_pattern: not a regular expression"),
    ("job post-processing unknown", _job_settings(postprocess="v9"), SettingsError,
     r"job j settings\.postprocess: expected one of"),
    ("job split unknown", _job_settings(data_type="../x"), SettingsError,
     r"job j settings\.data_type: expected one of \['dev', 'test'\]"),
    # Prompt dumps (→ `kiseki llm-jp-eval generate` stops before generating anything).
    ("prompt dump without target_dataset",
     _dump({k: v for k, v in DUMP.items() if k != "target_dataset"}), DumpError,
     r"jnli\.eval-prompt\.json: field 'target_dataset' must be str, got None"),
    ("prompt dump without output_length",
     _dump({k: v for k, v in DUMP.items() if k != "output_length"}), DumpError,
     "field 'output_length' must be int, got None"),
    ("prompt dump sample without prompt", _dump({**DUMP, "samples": [{"input": "x"}]}),
     DumpError, r"samples\[0\]\.prompt must be a string"),
    ("prompt dump label_list not a list", _dump({**DUMP, "label_list": 3}), DumpError,
     "field 'label_list' must be a list of strings, got 3"),
    ("prompt dump that is not JSON", lambda root: read_prompt_dump(root / "none.json"),
     DumpError, "not a readable JSON prompt dump"),
    # A COMET model directory (→ the task-runner does not start).
    ("COMET directory without its checkpoint", _comet(("hparams.yaml",)), MetricUnavailable,
     r"holds no COMET model \(hparams\.yaml, checkpoints/model\.ckpt\)"),
    ("COMET directory without hparams.yaml", _comet(("checkpoints/model.ckpt",)),
     MetricUnavailable, "holds no COMET model"),
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
