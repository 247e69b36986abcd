"""The scoring modes' one home: the names a policy, the command line and the store use, and
the wire value each name stands for."""

from __future__ import annotations

from kiseki.v1 import events_pb2 as ev

SCORING_MODES: dict[str, int] = {
    "generate": ev.SCORING_MODE_GENERATE,
    "loglikelihood": ev.SCORING_MODE_LOGLIKELIHOOD,
    "gold": ev.SCORING_MODE_GOLD,
}


def scoring_mode_name(mode: int) -> str:
    """The name of a wire value, as the store's `scoring_mode` column holds it."""
    return ev.ScoringMode.Name(mode).removeprefix("SCORING_MODE_").lower()
