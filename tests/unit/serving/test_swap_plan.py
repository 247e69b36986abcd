"""The swap decision: the same model with other weights swaps, the same weights are served as
they are (a swap would leave the fingerprint unchanged, read as stale), another model or a
reload not known good is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiseki.serving.swap import VLLM_SWAP_VERIFIED, SwapRefused, plan_swap, same_weights

CONFIG = {"architectures": ["GPT2LMHeadModel"], "n_layer": 2, "n_embd": 64}


def _checkpoint(root: Path, name: str, weights: bytes, **config: object) -> Path:
    path = root / name
    path.mkdir()
    (path / "config.json").write_text(json.dumps(CONFIG | config))
    (path / "tokenizer.json").write_text('{"model": "bpe"}')
    (path / "model.safetensors").write_bytes(weights)
    return path


def test_the_same_weights_are_served_without_a_swap(tmp_path: Path) -> None:
    current = _checkpoint(tmp_path, "checkpoint-100", b"header" + bytes(1000))
    copy = tmp_path / "checkpoint-100-again"
    shutil.copytree(current, copy)
    assert same_weights(current, copy)
    assert plan_swap(current, copy) is True
    # Even where the engine's reload is not known good: nothing is reloaded.
    assert plan_swap(current, copy, VLLM_SWAP_VERIFIED) is True


def test_other_weights_of_the_same_model_swap(tmp_path: Path) -> None:
    current = _checkpoint(tmp_path, "a", b"header" + bytes(1000))
    new = _checkpoint(tmp_path, "b", b"header" + bytes(999) + b"\x01")
    assert not same_weights(current, new)
    assert plan_swap(current, new) is False
    with pytest.raises(SwapRefused, match="not known to match a cold load"):
        plan_swap(current, new, VLLM_SWAP_VERIFIED)


def test_weights_in_other_files_are_other_weights(tmp_path: Path) -> None:
    current = _checkpoint(tmp_path, "a", b"w")
    new = _checkpoint(tmp_path, "b", b"w")
    (new / "model.safetensors").rename(new / "model-00001-of-00001.safetensors")
    assert not same_weights(current, new)


def test_another_architecture_or_tokenizer_is_refused(tmp_path: Path) -> None:
    current = _checkpoint(tmp_path, "a", b"w")
    wider = _checkpoint(tmp_path, "b", b"w", n_embd=128)
    with pytest.raises(SwapRefused, match="n_embd"):
        plan_swap(current, wider)
    retokenized = _checkpoint(tmp_path, "c", b"w")
    (retokenized / "tokenizer.json").write_text('{"model": "unigram"}')
    with pytest.raises(SwapRefused, match="another tokenizer"):
        plan_swap(current, retokenized)
