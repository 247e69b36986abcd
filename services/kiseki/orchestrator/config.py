"""The orchestrator's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiseki.core.config import setting


@dataclass(frozen=True)
class OrchestratorConfig:
    policy_file: Path = setting(
        "KISEKI_POLICY_FILE", doc="JSON evaluation policies per run and the endpoint budget"
    )
    workdir: Path = setting(
        "KISEKI_ORCHESTRATOR_WORKDIR",
        Path(".artifacts/orchestrator"),
        doc="local mode: tritonserver's model repository and logs",
    )
    job_partitions: int = setting(
        "KISEKI_JOB_PARTITIONS",
        12,
        unit="partitions",
        doc="upper bound on task-runners that share the jobs topic; 12 divides by 1-4, 6",
    )
    tick_s: float = setting(
        "KISEKI_ORCHESTRATOR_TICK_S",
        0.2,
        unit="seconds",
        doc="how long one read of the topics waits; bounds reaction time, not throughput",
    )
    control_port: int = setting(
        "KISEKI_CONTROL_PORT", 50051, unit="TCP port", doc="gRPC control API; 0 picks a free one"
    )
    control_host: str = setting(
        "KISEKI_CONTROL_HOST", "127.0.0.1", doc="bind address of the control API"
    )
    job_retries: int = setting(
        "KISEKI_ORCHESTRATOR_JOB_RETRIES",
        2,
        unit="retries",
        doc="times a checkpoint's failed jobs are sent again (after deploying again) before it"
        " is FAILED; covers endpoints down longer than the runners wait, cheap for bad data",
    )
