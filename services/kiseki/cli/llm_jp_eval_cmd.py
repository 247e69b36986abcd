"""`kiseki llm-jp-eval generate|export`: llm-jp-eval v2's prompt dumps in, its generated files
out, so either tool can score the other's work.

- `generate DUMP... --checkpoint DIR | --endpoint HOST:PORT --model NAME --out DIR`: generates
  exactly the dumps' prompts (greedy, the dump's output_length plus its output_length_delta)
  on a local tritonserver serving the checkpoint or on a running endpoint, writes
  `<dataset>.eval-generated.json` for llm-jp-eval's `evaluate`, and prints kiseki's own
  scores of the dumps that carry metrics and golds;
- `export RUN --step N DUMP... --out DIR`: the generations a run already stored for those
  prompts, as generated files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from kiseki.cli import CommandError, command_parser
from kiseki.cli.store_access import add_store_options, command
from kiseki.core.store import Store
from kiseki.evaluation.pipeline import Task, score_recorded
from kiseki.evaluation.postprocess import POSTPROCESS_MODES
from kiseki.evaluation.prompt_dumps import (
    DumpError,
    PromptDump,
    generated_document,
    read_prompt_dump,
    write_generated,
)
from kiseki.evaluation.settings import EvalSettings
from kiseki.serving.client import ScoringClient
from kiseki.serving.endpoints import Endpoint, LocalEndpointManager


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = command_parser(subparsers, "llm-jp-eval")
    commands = group.add_subparsers(dest="llm_jp_eval_command", required=True)
    generate = commands.add_parser("generate", help="generate a prompt dump's prompts")
    generate.add_argument("dumps", nargs="+", type=Path, metavar="DUMP")
    where = generate.add_mutually_exclusive_group(required=True)
    where.add_argument("--checkpoint", type=Path, help="a HuggingFace checkpoint to serve here")
    where.add_argument("--endpoint", help="host:port of a running Triton endpoint")
    generate.add_argument("--model", default="", help="the endpoint's model name")
    generate.add_argument("--out", type=Path, required=True)
    generate.add_argument("--postprocess", choices=POSTPROCESS_MODES, default="v2")
    generate.set_defaults(func=_generate)
    export = commands.add_parser("export", help="a run's stored generations as generated files")
    export.add_argument("run")
    export.add_argument("--step", type=int, required=True)
    export.add_argument("dumps", nargs="+", type=Path, metavar="DUMP")
    export.add_argument("--out", type=Path, required=True)
    add_store_options(export)
    export.set_defaults(func=command(_export))


def _dumps(paths: list[Path]) -> list[PromptDump]:
    try:
        return [read_prompt_dump(path) for path in paths]
    except DumpError as error:
        raise CommandError(str(error)) from None


async def _generate_all(endpoint: Endpoint, dumps: list[PromptDump]) -> list[list[str]]:
    client = ScoringClient(endpoint.address, endpoint.model_name)
    try:
        return [await client.generate(d.prompts, d.max_new_tokens) for d in dumps]
    finally:
        await client.close()


async def _served(args: argparse.Namespace, dumps: list[PromptDump]) -> list[list[str]]:
    if args.endpoint:
        if not args.model:
            raise CommandError("--endpoint needs --model")
        return await _generate_all(Endpoint(args.endpoint, args.model), dumps)
    with tempfile.TemporaryDirectory(prefix="kiseki-llm-jp-eval-") as workdir:
        manager = LocalEndpointManager(Path(workdir))
        try:
            endpoint = await manager.load("checkpoint", args.checkpoint.resolve())
            return await _generate_all(endpoint, dumps)
        finally:
            await manager.stop()


def _generate(args: argparse.Namespace) -> int:
    dumps = _dumps(args.dumps)
    outputs = asyncio.run(_served(args, dumps))
    scores: dict[str, dict[str, float]] = {}
    for dump, texts in zip(dumps, outputs, strict=True):
        print(f"wrote {write_generated(generated_document(dump, texts), args.out)}")
        dataset = dump.dataset()
        if dataset is not None:
            task = Task(dataset, EvalSettings(postprocess=args.postprocess), ())
            scores[dump.target_dataset] = score_recorded(task, texts)[1]
    print(json.dumps({"scores": scores}, ensure_ascii=False))
    return 0


def _export(args: argparse.Namespace, store: Store) -> int:
    for dump in _dumps(args.dumps):
        rows = store.query(
            "SELECT prompt, argMax(raw_output, inserted_at) AS raw_output FROM samples"
            " WHERE run_id = {run:String} AND step = {step:Int64} AND dataset = {d:String}"
            " AND scoring_mode = 'generate' GROUP BY prompt",
            {"run": args.run, "step": args.step, "d": dump.target_dataset},
        )
        stored = {row["prompt"]: row["raw_output"] for row in rows}
        missing = [i for i, prompt in enumerate(dump.prompts) if prompt not in stored]
        if missing:
            raise CommandError(
                f"{dump.path}: {len(missing)} of its prompts were not generated by {args.run}"
                f" at step {args.step} (first: sample {missing[0]})"
            )
        document = generated_document(dump, [stored[p] for p in dump.prompts])
        print(f"wrote {write_generated(document, args.out)}")
    return 0
