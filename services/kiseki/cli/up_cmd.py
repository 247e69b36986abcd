"""`kiseki up`: the whole system as local processes on the embedded defaults, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import Any

from kiseki.cli import CommandError, command_parser
from kiseki.cli.policy_cmd import plan_rows
from kiseki.orchestrator.policy import PolicyError, parse_policies
from kiseki.orchestrator.policy_file import read_policy_document
from kiseki.stack.progress import Announcements, checkpoint_states, describe
from kiseki.stack.stack import LocalStack, StackSettings, WatchedDir
from kiseki.stack.workdir import DEFAULT_WORKDIR

DEFAULT_SUITES = ["synth_arith", "synth_nli", "synth_qa"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "up")
    parser.add_argument("--watch", type=Path, required=True, help="the run's checkpoint directory")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--tokens-per-step", type=int, default=0)
    parser.add_argument("--datasets", type=Path, default=Path("datasets/synthetic"))
    parser.add_argument(
        "--policy",
        type=Path,
        help="policy JSON or YAML, or an llm-jp-eval config YAML (default: synthetic suites)",
    )
    parser.add_argument("--runners", type=int, default=1)
    parser.add_argument(
        "--store",
        default="",
        help="http(s)://user@host:port/db: a ClickHouse server (password from"
        " KISEKI_CLICKHOUSE_PASSWORD) instead of chDB in the workdir",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"state, logs and the chDB store (default {DEFAULT_WORKDIR})",
    )
    parser.set_defaults(func=run)


def _policy(path: Path | None, datasets: Path) -> dict[str, Any]:
    """The policy document, checked; the jobs it skips or that will fail are said now."""
    document: dict[str, Any] = {"runs": {"*": {"suites": DEFAULT_SUITES}}}
    try:
        if path is not None:
            document = read_policy_document(path, datasets)
        book = parse_policies(document, str(path or "the default policy"))
    except PolicyError as error:
        raise CommandError(str(error)) from None
    for row in plan_rows(book, datasets):
        if row["status"] != "ok":
            print(f"kiseki up: {row['dataset']} ({row['mode']}): {row['status']}", flush=True)
    return document


async def _follow(stack: LocalStack, run_id: str, stopping: asyncio.Event) -> None:
    """Checkpoints per state as they change, and each regression the sink announces."""
    announcements = Announcements(stack.kafka, run_id)
    await announcements.start()
    shown = ""
    try:
        while not stopping.is_set():
            stack.check()
            lines = await announcements.lines()
            line = describe(await checkpoint_states(stack.control_address, run_id))
            if line != shown:
                lines.insert(0, line)
                shown = line
            for text in lines:
                print(f"[{time.strftime('%H:%M:%S')}] {run_id}: {text}", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 2.0)
    finally:
        await announcements.stop()


def run(args: argparse.Namespace) -> int:
    if args.watch.exists() and not args.watch.is_dir():
        raise CommandError(f"--watch {args.watch} is not a directory")
    if not args.watch.exists():
        print(f"kiseki up: {args.watch} does not exist yet; waiting for the training to create it")
    settings = StackSettings(
        workdir=args.workdir.resolve(),
        runs=[WatchedDir(args.run_id, args.watch.resolve(), args.tokens_per_step)],
        policy=_policy(args.policy, args.datasets),
        datasets_dir=args.datasets.resolve(),
        runners=args.runners,
        store_url=args.store,
    )
    stack = LocalStack(settings)
    stack.start()
    print(
        f"kiseki up: control API on {stack.control_address}, read-only SQL (kiseki runs, scores,"
        f" trajectory, shapes, sql) on {stack.query_address}; logs in {settings.workdir / 'logs'}"
    )

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await _follow(stack, args.run_id, stopping)

    try:
        stack.wait_ready()
        print("kiseki up: every service is ready; watching for checkpoints", flush=True)
        asyncio.run(main())
    except TimeoutError as error:
        raise CommandError(f"{error}; see the logs in {settings.workdir / 'logs'}") from None
    finally:
        print("kiseki up: stopping every service")
        stack.stop()
    return 0
