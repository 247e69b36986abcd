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

# The one line a failed conversion writes on stderr (the process, `kiseki convert`, the Job's
# log): what follows it is the checkpoint's FAILED reason.
FAILURE_MARK = "conversion failed: "


def failure_reason(log: str) -> str | None:
    """The reason in the last failure line of a conversion's output, if it wrote one."""
    for line in reversed(log.splitlines()):
        _, mark, reason = line.partition(FAILURE_MARK)
        if mark:
            return reason
    return None
