"""The formats converted before serving, by the names the runs file and `--format` use.
Free of torch, so the orchestrator and the command line can ask without loading it."""

from __future__ import annotations

from kiseki.v1 import events_pb2 as ev

FORMAT_NAMES = {
    "megatron": ev.CHECKPOINT_FORMAT_MEGATRON,
    "deepspeed": ev.CHECKPOINT_FORMAT_DEEPSPEED,
    "nemo2": ev.CHECKPOINT_FORMAT_NEMO,
}
FLAGS = {proto: name for name, proto in FORMAT_NAMES.items()}
