"""`kiseki eval-offline`: per-dataset, per-category and AVG scores of a predictions file.

The predictions format is documented in kiseki.evaluation.offline (JSON Lines or a JSON array
of {"dataset", "index" | "input", "output"} records). Prints one JSON object; exits 1 when some
dataset could not be scored (its message is under "errors").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kiseki.cli import CommandError, command_parser
from kiseki.evaluation.offline import PredictionsError, read_predictions, score_offline
from kiseki.evaluation.postprocess import POSTPROCESS_MODES
from kiseki.evaluation.registry import V141_CATEGORIES, CategoryMapError, load_category_map
from kiseki.evaluation.settings import EvalSettings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "eval-offline")
    parser.add_argument(
        "--datasets", type=Path, required=True, help="<dir>/{train,dev,test}/<name>.json"
    )
    parser.add_argument("--predictions", type=Path, required=True, help="JSON Lines or array")
    parser.add_argument("--postprocess", choices=POSTPROCESS_MODES, default="llm-jp-eval-1.3")
    parser.add_argument("--categories", type=Path, help="a category map JSON (default v1.4.1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.datasets.is_dir():
        raise CommandError(f"{args.datasets}: no such datasets directory")
    try:
        categories = load_category_map(args.categories) if args.categories else V141_CATEGORIES
        predictions = read_predictions(args.predictions)
    except (CategoryMapError, PredictionsError) as error:
        raise CommandError(str(error)) from None
    settings = EvalSettings(postprocess=args.postprocess)
    result = score_offline(args.datasets, predictions, lambda _: settings, categories)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 1 if result.get("errors") else 0
