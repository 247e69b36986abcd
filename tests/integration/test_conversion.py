"""Checkpoints written by Megatron-Core and DeepSpeed themselves convert to HuggingFace
checkpoints whose logits equal the framework's own (fp32, within 1e-4), for every layout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from kiseki.cli import main as cli
from kiseki.conversion.hf_writer import ConversionError
from kiseki.conversion.registry import convert
from kiseki.v1 import events_pb2 as ev
from support.frameworks import FRAMEWORKS_PYTHON, REPO, framework_fixtures

ITER = "iter_0000010"
MEGATRON, NEMO = ev.CHECKPOINT_FORMAT_MEGATRON, ev.CHECKPOINT_FORMAT_NEMO
NEMO2_RUN = "run/checkpoints/model--step=10-consumed_samples=20.0"


@pytest.fixture(scope="session")
def frameworks() -> Path:
    return framework_fixtures()


@pytest.fixture(scope="session")
def pipelines() -> Path:
    return framework_fixtures("pipeline")


@pytest.fixture(scope="session")
def nemo2() -> Path:
    return framework_fixtures("nemo2")


def assert_same_logits(converted: Path, reference: Path, tolerance: float = 1e-4) -> None:
    expected = torch.load(reference)
    model = AutoModelForCausalLM.from_pretrained(converted, dtype=torch.float32)
    model.eval()  # type: ignore[no-untyped-call]
    with torch.no_grad():
        logits = model(input_ids=expected["tokens"]).logits
    assert logits.shape == expected["logits"].shape  # the vocab padding rows are gone
    assert (logits - expected["logits"]).abs().max().item() <= tolerance
    assert len(AutoTokenizer.from_pretrained(converted)) == logits.shape[-1]


def conversion_process(python: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
    command = [str(python), "-m", "kiseki.conversion", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("layout", ["torch_dist", "legacy"])
@pytest.mark.parametrize("case", ["gpt-tp1", "llama-tp1", "gpt-tp2", "llama-tp2"])
def test_megatron_converts_to_the_same_logits(
    frameworks: Path, tmp_path: Path, case: str, layout: str
) -> None:
    source = frameworks / f"megatron-{case}"
    convert(source / layout / ITER, tmp_path / "hf", MEGATRON, frameworks / "tokenizer")
    assert_same_logits(tmp_path / "hf", source / "reference.pt")


@pytest.mark.parametrize("layout", ["torch_dist", "legacy"])
@pytest.mark.parametrize("case", ["gpt-tp1-pp2", "llama-tp1-pp2", "llama-tp2-pp2"])
def test_pipeline_parallel_megatron_merges_to_the_framework_logits(
    pipelines: Path, tmp_path: Path, case: str, layout: str
) -> None:
    """Two stages (four layers, the tied GPT embedding's copy on the last stage), and TP 2 x
    PP 2: the logits of Megatron-Core's own forward through both stages, within 1e-5."""
    source = pipelines / f"megatron-{case}"
    convert(source / layout / ITER, tmp_path / "hf", MEGATRON, pipelines / "tokenizer")
    assert_same_logits(tmp_path / "hf", source / "reference.pt", tolerance=1e-5)
    config = AutoConfig.from_pretrained(tmp_path / "hf")
    assert config.num_hidden_layers == 4


@pytest.mark.parametrize(
    ("layout", "removed"),
    [("legacy", "mp_rank_01_001"), ("torch_dist", "__3_0.distcp")],
)
def test_a_missing_pipeline_stage_names_its_shard(
    pipelines: Path, tmp_path: Path, layout: str, removed: str
) -> None:
    checkpoint = tmp_path / ITER
    shutil.copytree(pipelines / "megatron-llama-tp2-pp2" / layout / ITER, checkpoint)
    path = checkpoint / removed
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    with pytest.raises(ConversionError, match=f"shard .*{removed}.* is missing") as raised:
        convert(checkpoint, tmp_path / "hf", MEGATRON, pipelines / "tokenizer")
    if layout == "legacy":
        assert "tensor-parallel rank 1 of 2, pipeline stage 1 of 2" in str(raised.value)
    assert not (tmp_path / "hf").exists()


def test_deepspeed_zero_converts_in_a_process_where_deepspeed_imports(
    frameworks: Path, tmp_path: Path
) -> None:
    source = frameworks / "deepspeed-zero2"
    checkpoint = str(source / "run" / "global_step1")
    args = ["--format", "deepspeed", "--tokenizer", str(frameworks / "tokenizer")]
    result = conversion_process(FRAMEWORKS_PYTHON, checkpoint, str(tmp_path / "hf"), *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_logits(tmp_path / "hf", source / "reference.pt")
    without = conversion_process(sys.executable, checkpoint, str(tmp_path / "no"), *args)
    assert without.returncode == 2
    assert "need the deepspeed package" in without.stderr


def test_the_process_reports_a_missing_tensor_parallel_shard(
    frameworks: Path, tmp_path: Path
) -> None:
    checkpoint = tmp_path / ITER
    shutil.copytree(frameworks / "megatron-llama-tp2" / "legacy" / ITER, checkpoint)
    shutil.rmtree(checkpoint / "mp_rank_01")
    args = [str(checkpoint), str(tmp_path / "hf"), "--format", "megatron"]
    result = conversion_process(sys.executable, *args, "--tokenizer", str(frameworks / "tokenizer"))
    assert result.returncode == 2
    assert "conversion failed:" in result.stderr
    assert "mp_rank_01/model_optim_rng.pt is missing" in result.stderr
    assert not (tmp_path / "hf").exists()
    assert list(tmp_path.iterdir()) == [checkpoint]  # no half-written copy left behind


def _edited_legacy(frameworks: Path, tmp_path: Path, edit: str) -> Path:
    checkpoint = tmp_path / ITER
    shutil.copytree(frameworks / "megatron-llama-tp1" / "legacy" / ITER, checkpoint)
    path = checkpoint / "mp_rank_00" / "model_optim_rng.pt"
    state = torch.load(path, weights_only=False)
    if edit == "shape":
        name = "decoder.layers.1.mlp.linear_fc2.weight"
        state["model"][name] = state["model"][name][:, :-1]
    else:
        state["args"].normalization = "LayerNorm"
    torch.save(state, path)
    return checkpoint


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (
            "shape",
            "'decoder.layers.1.mlp.linear_fc2.weight' has shape (64, 127), the args say (64, 128)",
        ),
        (
            "architecture",
            "unknown architecture: args {'normalization': 'LayerNorm', 'swiglu': True",
        ),
    ],
)
def test_bad_checkpoints_fail_with_the_field_at_fault(
    frameworks: Path, tmp_path: Path, edit: str, reason: str
) -> None:
    checkpoint = _edited_legacy(frameworks, tmp_path, edit)
    with pytest.raises(ConversionError) as error:
        convert(checkpoint, tmp_path / "hf", MEGATRON, frameworks / "tokenizer")
    assert reason in str(error.value)
    assert not (tmp_path / "hf").exists()


def test_a_torn_torch_dist_checkpoint_fails_naming_the_file(
    frameworks: Path, tmp_path: Path
) -> None:
    checkpoint = tmp_path / ITER
    shutil.copytree(frameworks / "megatron-gpt-tp2" / "torch_dist" / ITER, checkpoint)
    (checkpoint / "__1_0.distcp").unlink()
    with pytest.raises(ConversionError, match=r"__1_0\.distcp is missing"):
        convert(checkpoint, tmp_path / "hf", MEGATRON, frameworks / "tokenizer")


@pytest.mark.parametrize("style", ["gpt", "llama"])
def test_nemo2_converts_to_the_same_logits(nemo2: Path, tmp_path: Path, style: str) -> None:
    """weights/ written by megatron-core's dist_checkpointing under NeMo's `module.` prefix,
    context/model.yaml by the fixture in NeMo's layout (NeMo does not import here)."""
    source = nemo2 / f"nemo2-{style}"
    convert(source / NEMO2_RUN, tmp_path / "hf", NEMO, nemo2 / "tokenizer")
    assert_same_logits(tmp_path / "hf", source / "reference.pt", tolerance=1e-5)


def test_nemo2_bad_input_names_the_part_at_fault(nemo2: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "model--step=10"
    shutil.copytree(nemo2 / "nemo2-llama" / NEMO2_RUN, checkpoint)
    tokenizer = nemo2 / "tokenizer"
    with pytest.raises(ConversionError, match="tokenizer must be named by the run"):
        convert(checkpoint, tmp_path / "hf", NEMO, None)
    model_yaml = checkpoint / "context" / "model.yaml"
    model_yaml.write_text(model_yaml.read_text().replace("silu", "relu"))
    with pytest.raises(ConversionError, match=r"model\.yaml: activation_func .*relu"):
        convert(checkpoint, tmp_path / "hf", NEMO, tokenizer)
    model_yaml.unlink()
    with pytest.raises(ConversionError, match=r"context/model\.yaml cannot be read"):
        convert(checkpoint, tmp_path / "hf", NEMO, tokenizer)
    shutil.rmtree(checkpoint / "weights")
    with pytest.raises(ConversionError, match=r"weights is missing"):
        convert(checkpoint, tmp_path / "hf", NEMO, tokenizer)
    assert not (tmp_path / "hf").exists()


def test_a_missing_tokenizer_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="carry no tokenizer: the run must name one"):
        convert(tmp_path, tmp_path / "hf", MEGATRON, None)


def test_kiseki_convert_does_it_by_hand(
    frameworks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = frameworks / "megatron-gpt-tp2"
    argv = ["convert", str(source / "legacy" / ITER), str(tmp_path / "hf"), "--format", "megatron"]
    assert cli([*argv, "--tokenizer", str(frameworks / "tokenizer")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "hf")
    assert_same_logits(tmp_path / "hf", source / "reference.pt")
    assert cli([*argv, "--tokenizer", str(frameworks / "tokenizer")]) == 2  # exists already
    assert "exists already" in capsys.readouterr().err
