"""`kiseki trtllm-repo` and `kiseki trtllm-build-job`: the TensorRT-LLM path's artefacts,
configured by the KISEKI_TRTLLM_* variables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from kiseki.cli import CommandError, command_parser
from kiseki.core.config import ConfigError, load_config
from kiseki.serving.trtllm.build_job import BuildVolumes, as_manifest, engine_build_job
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.serving.trtllm.repository import write_repository


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    repo = command_parser(subparsers, "trtllm-repo")
    repo.add_argument("--out", type=Path, required=True, help="repository directory to write")
    repo.add_argument(
        "--trtllm-source",
        type=Path,
        help="TensorRT-LLM source at the image's version: copies the pre/post-processing"
        " model.py from it (otherwise the serving pod must provide them)",
    )
    repo.set_defaults(func=write_repo)
    job = command_parser(subparsers, "trtllm-build-job")
    job.add_argument("--run-id", required=True)
    job.add_argument("--checkpoint-id", required=True)
    job.add_argument("--checkpoint-claim", required=True, help="PVC holding the checkpoints")
    job.add_argument("--checkpoint-subpath", default="", help="the checkpoint's path in that PVC")
    job.add_argument("--engine-claim", required=True, help="PVC the engine is written to")
    job.add_argument("--engine-subpath", default="", help="the engine's path in that PVC")
    job.add_argument("--source-claim", default="", help="PVC with TensorRT-LLM's source tree")
    job.add_argument("--format", choices=("yaml", "json"), default="yaml")
    job.set_defaults(func=print_job)


def _config() -> TrtllmConfig:
    try:
        return load_config(TrtllmConfig).validate()
    except ConfigError as error:
        raise CommandError(str(error)) from None


def write_repo(args: argparse.Namespace) -> int:
    try:
        written = write_repository(_config(), args.out, args.trtllm_source)
    except FileNotFoundError as error:
        raise CommandError(str(error)) from None
    for path in written:
        print(path)
    return 0


def print_job(args: argparse.Namespace) -> int:
    claims = BuildVolumes(
        checkpoint_claim=args.checkpoint_claim,
        engine_claim=args.engine_claim,
        checkpoint_subpath=args.checkpoint_subpath,
        engine_subpath=args.engine_subpath,
        source_claim=args.source_claim,
    )
    try:
        job = engine_build_job(_config(), args.run_id, args.checkpoint_id, claims)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    manifest = as_manifest(job)
    if args.format == "json":
        print(json.dumps(manifest, indent=2))
    else:
        print(yaml.safe_dump(manifest, sort_keys=False), end="")
    return 0
