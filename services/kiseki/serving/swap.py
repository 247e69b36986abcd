"""Weight hot-swap: a running engine takes the next checkpoint of the same architecture.

Loading a model server costs seconds (HF: the stub, torch, the model) to tens of seconds
(vLLM: 22-37 s here, its engine and caches); a checkpoint of the same run differs only in its
weights. A backend swaps only when the new checkpoint has the same architecture and tokenizer
(else a cold load is the only honest way), and after a swap the endpoint must prove it serves
the new weights: engines have kept stale weights after a reload (a prefix cache computed with
the old ones, a reload that silently matched no parameter). The proof is a fingerprint, the
log-likelihoods of fixed probe pairs, which must change, and equal a reference when one is
known (a cold load of the same checkpoint gives one).
"""

from __future__ import annotations

import filecmp
import hashlib
import json
from pathlib import Path

# Log-likelihood pairs every backend scores the same way; their values fingerprint the weights.
FINGERPRINT_PROBE = (("kiseki 軌跡: 1 2 3", " 4 5"), ("The quick brown", " fox"))
# Log-prob units: a swapped endpoint's fingerprint against a reference (HF and vLLM agree to it).
SWAP_TOLERANCE = 1e-4
# Keys of config.json that say nothing about the architecture.
_NOT_ARCHITECTURE = {"_name_or_path", "transformers_version", "torch_dtype", "dtype"}
# What a checkpoint's weights are stored in (HF: safetensors or pickled shards and their index).
_WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


# Architectures whose in-place reload on vLLM 0.32 was checked to answer as a cold load (HF on
# the new checkpoint, same fingerprint to 1e-4): Llama, LLM-jp's. GPT-2's did not (tied
# embeddings): its fingerprint changed but matched neither checkpoint, so it is cold-loaded.
VLLM_SWAP_VERIFIED = frozenset({"LlamaForCausalLM"})
# Per backend, the architectures its swap is known good for (None: any it can load); none for
# TensorRT-LLM: an engine is built for one checkpoint's weights, so its front model never swaps.
SWAP_VERIFIED: dict[str, frozenset[str] | None] = {
    "hf": None,
    "vllm": VLLM_SWAP_VERIFIED,
    "trtllm": frozenset(),
}


class SwapRefused(ValueError):
    """The new checkpoint cannot take the running engine's place; the message says why."""


def _architecture(checkpoint: Path) -> dict[str, object]:
    try:
        config = json.loads((checkpoint / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise SwapRefused(f"cannot read {checkpoint / 'config.json'}: {error}") from None
    return {k: v for k, v in config.items() if k not in _NOT_ARCHITECTURE}


def _tokenizer_digest(checkpoint: Path) -> str:
    digest = hashlib.sha256()
    for name in _TOKENIZER_FILES:
        path = checkpoint / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _check_verified(new_arch: dict[str, object], verified: frozenset[str] | None) -> None:
    names = new_arch.get("architectures")
    listed = {str(name) for name in names} if isinstance(names, list) else {"?"}
    if verified is not None and not listed <= verified:
        raise SwapRefused(
            f"in-place reload of {sorted(listed)} is not known to match a cold load on this"
            f" engine (verified: {sorted(verified)})"
        )


def _check_same_model(current: Path, new: Path) -> dict[str, object]:
    old_arch, new_arch = _architecture(current), _architecture(new)
    if old_arch != new_arch:
        keys = sorted(
            k for k in old_arch.keys() | new_arch.keys() if old_arch.get(k) != new_arch.get(k)
        )
        raise SwapRefused(f"{new} has another architecture ({', '.join(keys)} differ)")
    if _tokenizer_digest(current) != _tokenizer_digest(new):
        raise SwapRefused(f"{new} has another tokenizer")
    return new_arch


def check_swappable(current: Path, new: Path, verified: frozenset[str] | None = None) -> None:
    """SwapRefused unless `new` has `current`'s architecture and tokenizer (and, for an
    engine whose reload is known good only for some, one of the `verified` architectures)."""
    new_arch = _check_same_model(current, new)
    _check_verified(new_arch, verified)


def same_weights(current: Path, new: Path) -> bool:
    """Whether `new` holds byte for byte `current`'s weight files (a run that saved twice
    without a step between, a copy): swapping to them would leave the fingerprint unchanged,
    which reads as a stale reload. Files of different weights differ in their first tensor's
    bytes, so the comparison stops early; only identical files are read whole."""
    names = sorted({p.name for pattern in _WEIGHT_PATTERNS for p in current.glob(pattern)})
    if not names or names != sorted(
        {p.name for pattern in _WEIGHT_PATTERNS for p in new.glob(pattern)}
    ):
        return False
    return all(filecmp.cmp(current / name, new / name, shallow=False) for name in names)


def plan_swap(current: Path, new: Path, verified: frozenset[str] | None = None) -> bool:
    """True when the engine serving `current` can serve `new` as it is (the same model, the
    same weights), False when it must swap its weights; SwapRefused when it cannot take `new`.
    It reads files (the weights whole when equal): call it off the event loop."""
    new_arch = _check_same_model(current, new)
    if same_weights(current, new):
        return True
    _check_verified(new_arch, verified)
    return False


def fingerprint_problem(
    before: list[float], after: list[float], reference: list[float] | None, tolerance: float
) -> str:
    """Why the swapped endpoint cannot be trusted, or "" when it can."""
    if len(after) != len(FINGERPRINT_PROBE):
        return f"fingerprint of {len(after)} values, expected {len(FINGERPRINT_PROBE)}"
    if after == before:
        return "the fingerprint did not change: the endpoint still serves the previous weights"
    if reference is not None and any(
        abs(a - r) > tolerance for a, r in zip(after, reference, strict=True)
    ):
        return f"fingerprint {after} differs from the checkpoint's {reference} beyond {tolerance}"
    return ""
