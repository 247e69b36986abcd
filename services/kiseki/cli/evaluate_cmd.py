"""`kiseki evaluate RUN`: ask the orchestrator to evaluate checkpoints of a run (again), on
the policy's suites and modes or on others: a backfill.

The control API is `--control host:port`, else KISEKI_CONTROL_ADDRESS, else the address a
running `kiseki up` wrote to .artifacts/up/control.address. TLS and the token come from the
same settings as the orchestrator's (KISEKI_CONTROL_TOKEN, KISEKI_CONTROL_TLS_CA).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import grpc

from kiseki.cli import CommandError, command_parser
from kiseki.cli.store_access import add_workdir_option
from kiseki.core.config import ConfigError, load_config
from kiseki.core.grpc_auth import GrpcAuthConfig
from kiseki.core.scoring_modes import SCORING_MODES
from kiseki.stack.workdir import CONTROL_ADDRESS_FILE, DEFAULT_WORKDIR
from kiseki.v1 import control_pb2 as ctl
from kiseki.v1 import control_pb2_grpc

UP_CONTROL_ADDRESS = DEFAULT_WORKDIR / CONTROL_ADDRESS_FILE


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _steps(text: str) -> list[int]:
    try:
        return [int(step) for step in _listed(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"steps are whole numbers: {text!r}") from None


def _modes(text: str) -> list[int]:
    unknown = [mode for mode in _listed(text) if mode not in SCORING_MODES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown modes {unknown}; known: {sorted(SCORING_MODES)}")
    return [SCORING_MODES[mode] for mode in _listed(text)]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "evaluate")
    parser.add_argument("run")
    parser.add_argument("--steps", type=_steps, default=[], help="e.g. 100,200 (default: all)")
    parser.add_argument("--suites", type=_listed, default=[], help="default: the policy's")
    parser.add_argument("--modes", type=_modes, default=[], help="default: the policy's")
    parser.add_argument("--control", help="host:port of the control API (default: see docs)")
    add_workdir_option(parser)
    parser.set_defaults(func=run)


def control_address(given: str | None, up_file: Path = UP_CONTROL_ADDRESS) -> str:
    address = given or os.environ.get("KISEKI_CONTROL_ADDRESS", "")
    if not address and up_file.is_file():
        address = up_file.read_text().strip()
    if not address:
        raise CommandError("no control API address: pass --control or set KISEKI_CONTROL_ADDRESS")
    return address


async def _request(
    address: str, auth: GrpcAuthConfig, request: ctl.RequestEvaluationRequest
) -> ctl.RequestEvaluationResponse:
    async with auth.channel(address) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        reply: ctl.RequestEvaluationResponse = await stub.RequestEvaluation(request, timeout=30)
        return reply


def run(args: argparse.Namespace) -> int:
    address = control_address(args.control, args.workdir / CONTROL_ADDRESS_FILE)
    try:
        auth = load_config(GrpcAuthConfig)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    request = ctl.RequestEvaluationRequest(
        run_id=args.run, steps=args.steps, suites=args.suites, scoring_modes=args.modes
    )
    try:
        reply = asyncio.run(_request(address, auth, request))
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.UNAVAILABLE:
            raise CommandError(f"no control API answers at {address}") from None
        raise CommandError(f"{error.code().name.lower()}: {error.details()}") from None
    print(f"{len(reply.checkpoint_ids)} checkpoint(s) of {args.run} will be evaluated")
    for checkpoint_id in reply.checkpoint_ids:
        print(f"  {checkpoint_id}")
    if reply.in_flight:
        print(f"{len(reply.in_flight)} being evaluated now, left alone (ask again once done):")
        for checkpoint_id in reply.in_flight:
            print(f"  {checkpoint_id}")
    return 0
