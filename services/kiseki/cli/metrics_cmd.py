"""`kiseki metrics score FILE.json`: one metric over (prediction, gold) pairs, as JSON.

FILE is {"metric": NAME, "pairs": [[prediction, gold], ...]}; a pair may carry the sample's
source text third (comet_wmt22 needs it, and a model: --comet-model, run in a child process
of COMET's own environment with --comet-python, as a task-runner runs it). Predictions are
post-processed with --postprocess (default none) and golds NFKC-normalised unless the mode is
none. Prints
{"metric": NAME, "score": S, "n": N}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kiseki.cli import CommandError, command_parser
from kiseki.comet.process import CometProcess
from kiseki.evaluation.metrics import MetricUnavailable, UnknownMetric, score_samples
from kiseki.evaluation.metrics.comet import install_comet_scorer, unbabel_comet_scorer
from kiseki.evaluation.postprocess import POSTPROCESS_MODES, normalize_gold, postprocess

_SHAPE = '{"metric": NAME, "pairs": [[prediction, gold], ...]}'


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    metrics = command_parser(subparsers, "metrics")
    commands = metrics.add_subparsers(dest="metrics_command", required=True)
    score = commands.add_parser("score", help=f"FILE is {_SHAPE}")
    score.add_argument("file", type=Path)
    score.add_argument("--postprocess", choices=POSTPROCESS_MODES, default="none")
    score.add_argument(
        "--comet-model",
        type=Path,
        help="a local wmt22-comet-da checkpoint (checkpoints/model.ckpt) for comet_wmt22",
    )
    score.add_argument(
        "--comet-python",
        type=Path,
        help="the python of an environment with unbabel-comet (tools/comet); default: this one",
    )
    score.set_defaults(func=run)


def _pair(item: Any) -> tuple[str, str, str]:
    if not isinstance(item, list) or len(item) not in (2, 3):
        raise TypeError(f"a pair is [prediction, gold] or [prediction, gold, source]: {item!r}")
    if not all(isinstance(text, str) for text in item):
        raise TypeError(f"pair members must be strings: {item!r}")
    return item[0], item[1], item[2] if len(item) == 3 else ""


def _read(path: Path) -> tuple[str, list[tuple[str, str, str]]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError(f"{path}: cannot read JSON ({error})") from None
    try:
        if not isinstance(document, dict) or not isinstance(document["metric"], str):
            raise TypeError("'metric' must be a string")
        if not isinstance(document["pairs"], list):
            raise TypeError("'pairs' must be a list")
        return document["metric"], [_pair(item) for item in document["pairs"]]
    except (KeyError, TypeError) as error:
        raise CommandError(f"{path}: expected {_SHAPE} ({error})") from None


def run(args: argparse.Namespace) -> int:
    metric, pairs = _read(args.file)
    predictions = [postprocess(p, args.postprocess) for p, _, _ in pairs]
    golds = [normalize_gold(g, args.postprocess) for _, g, _ in pairs]
    sources = [s for _, _, s in pairs]
    child = None
    try:
        if args.comet_model and args.comet_python:
            child = CometProcess(args.comet_python, args.comet_model, 8, 600.0)
            child.start()
            install_comet_scorer(child)
        elif args.comet_model:
            install_comet_scorer(unbabel_comet_scorer(str(args.comet_model)))
        _, scores = score_samples([metric], predictions, golds, sources)
    except (UnknownMetric, MetricUnavailable) as error:
        raise CommandError(str(error)) from None
    finally:
        if child is not None:
            child.close()
    print(json.dumps({"metric": metric, "score": scores[metric], "n": len(pairs)}))
    return 0
