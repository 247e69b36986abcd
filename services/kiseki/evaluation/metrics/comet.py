"""comet_wmt22 through a plug-in: the Unbabel/wmt22-comet-da model is a hub download and
torch-sized, so the pure core only defines the call and asks a scorer installed at run time.

A scorer takes (sources, predictions, golds) and returns one score per sample. Without one,
`comet_wmt22` raises MetricUnavailable saying what to install.

`unbabel-comet` is not in the project's lock (checked with 2.2.7, the newest): it requires
transformers<5, protobuf<5 and huggingface-hub<1, against the pinned transformers 5,
protobuf 6.33 (kserve needs it) and huggingface-hub 2. Forced past those bounds it loads a
checkpoint offline, but its XLM-R encoder unpacks three outputs where transformers 5's
`XLMRobertaModel(return_dict=False)` returns two, so `predict` fails. It gets an environment
of its own (tools/comet/requirements.lock) and the runner runs it in a child process of that
environment (kiseki.comet, KISEKI_COMET_PYTHON); `unbabel_comet_scorer` here is the same
scorer in-process, for a process whose own environment has the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

CometScorer = Callable[[Sequence[str], Sequence[str], Sequence[str]], Sequence[float]]


class MetricUnavailable(RuntimeError):
    """A metric whose model or package is not present here."""


_installed: list[CometScorer] = []


def install_comet_scorer(scorer: CometScorer | None) -> None:
    """Use `scorer` for comet_wmt22 from now on (None removes it)."""
    _installed.clear()
    if scorer is not None:
        _installed.append(scorer)


def comet_package() -> Any | None:
    """The `unbabel-comet` package, or None; a folder named comet on the path (tools/comet)
    imports as an empty namespace package, which is not it."""
    try:
        comet = importlib.import_module("comet")
    except ImportError:
        return None
    return comet if hasattr(comet, "load_from_checkpoint") else None


def unbabel_comet_scorer(checkpoint: str, batch_size: int = 8, gpus: int = 0) -> CometScorer:
    """A scorer from the `unbabel-comet` package and a local wmt22-comet-da checkpoint."""
    comet = comet_package()
    if comet is None:
        raise MetricUnavailable(
            "comet_wmt22: the 'unbabel-comet' package is not installed here; set"
            " KISEKI_COMET_PYTHON to the python of an environment that has it (tools/comet)"
        )
    try:
        model = comet.load_from_checkpoint(checkpoint, local_files_only=True)
    except (OSError, ValueError) as error:
        raise MetricUnavailable(f"comet_wmt22: cannot load {checkpoint!r}: {error}") from None

    def score(
        sources: Sequence[str], predictions: Sequence[str], golds: Sequence[str]
    ) -> list[float]:
        data = [
            {"src": s, "mt": p, "ref": g}
            for s, p, g in zip(sources, predictions, golds, strict=True)
        ]
        output = model.predict(data, batch_size=batch_size, gpus=gpus, progress_bar=False)
        return [float(value) for value in output.scores]

    return score


def require_comet_scorer() -> CometScorer:
    """The installed scorer; MetricUnavailable, saying what to install, when there is none."""
    if not _installed:
        raise MetricUnavailable(
            "comet_wmt22 needs the Unbabel/wmt22-comet-da model, which is not available here "
            "(no model hub): download the checkpoint where a hub is reachable, then pass it:"
            " KISEKI_COMET_MODEL_DIR for a task-runner (the chart's comet.modelClaim) with"
            " KISEKI_COMET_PYTHON naming an environment with 'unbabel-comet' (tools/comet),"
            " or `kiseki metrics score --comet-model PATH --comet-python PYTHON`"
        )
    return _installed[0]


def comet_wmt22(
    sources: Sequence[str], predictions: Sequence[str], golds: Sequence[str]
) -> list[float]:
    scores = [float(value) for value in require_comet_scorer()(sources, predictions, golds)]
    if len(scores) != len(predictions):
        raise MetricUnavailable(f"comet_wmt22: {len(scores)} scores for {len(predictions)} samples")
    return scores
