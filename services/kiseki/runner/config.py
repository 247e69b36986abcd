"""The task-runner's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiseki.core.config import setting


@dataclass(frozen=True)
class RunnerConfig:
    datasets_dir: Path = setting(
        "KISEKI_DATASETS_DIR",
        doc="llm-jp-eval preprocessed datasets: <dir>/{train,test}/<name>.json",
    )
    group_id: str = setting(
        "KISEKI_RUNNER_GROUP", "kiseki-runners", doc="consumer group; add runners to go faster"
    )
    items_per_request: int = setting(
        "KISEKI_RUNNER_ITEMS_PER_REQUEST",
        64,
        unit="items",
        doc="items packed in one inference request; packing beats client concurrency",
    )
    max_in_flight: int = setting(
        "KISEKI_RUNNER_MAX_IN_FLIGHT", 2, unit="requests", doc="requests in flight per job"
    )
    max_attempts: int = setting(
        "KISEKI_RUNNER_MAX_ATTEMPTS",
        6,
        unit="attempts",
        doc="tries per job while its endpoint is unavailable, then the job is reported FAILED",
    )
    first_backoff_s: float = setting(
        "KISEKI_RUNNER_FIRST_BACKOFF_S",
        0.5,
        unit="seconds",
        doc="wait after the first failed try; doubles each time (0.5 s … 16 s over 6 tries)",
    )
    endpoint_wait_s: float = setting(
        "KISEKI_RUNNER_ENDPOINT_WAIT_S",
        300.0,
        unit="seconds",
        doc="longest a job waits, beyond its tries, while its endpoint is up but reloading its"
        " model (not ready, or its model process died and is being replaced): a vLLM model"
        " process takes 20-40 s to reload on a quiet machine and ~70 s on a loaded one, more"
        " than the tries' 16 s of backoff",
    )
    max_job_s: float = setting(
        "KISEKI_RUNNER_MAX_JOB_S",
        6 * 3600.0,
        unit="seconds",
        doc="longest a job may take before the group hands it to another runner; a shard of a"
        " large suite on a large model runs for hours, so the consumer's 5-minute default would"
        " have a healthy runner's job redone elsewhere",
    )
    comet_model_dir: Path | None = setting(
        "KISEKI_COMET_MODEL_DIR",
        None,
        doc="a downloaded Unbabel/wmt22-comet-da snapshot (hparams.yaml, checkpoints/model.ckpt)"
        " for comet_wmt22, loaded once at start; unset, jobs that need it fail saying so",
    )
    comet_python: Path | None = setting(
        "KISEKI_COMET_PYTHON",
        None,
        doc="the python of an environment with unbabel-comet (tools/comet, the image's"
        " /opt/comet): COMET runs in a long-lived child process of it, since its transformers<5"
        " cannot share the runner's environment; unset, the runner's own package in-process",
    )
    comet_start_timeout_s: float = setting(
        "KISEKI_COMET_START_TIMEOUT_S",
        600.0,
        unit="seconds",
        doc="longest the COMET child may take to load its model; generous because"
        " wmt22-comet-da is a 2.3 GB checkpoint, often on a network volume",
    )
    comet_batch_size: int = setting(
        "KISEKI_COMET_BATCH_SIZE",
        64,
        unit="segments",
        doc="segments per COMET forward pass; XLM-R large on a GPU takes 64 easily",
    )
    request_timeout_s: float = setting(
        "KISEKI_RUNNER_REQUEST_TIMEOUT_S",
        600.0,
        unit="seconds",
        doc="one packed request; generous because a large model on a busy GPU is slow",
    )
    sent_prompts: int = setting(
        "KISEKI_RUNNER_SENT_PROMPTS",
        200_000,
        unit="prompts",
        doc="hashes of the prompts this runner has published on the prompts topic that it"
        " remembers (~100 B each), so the next checkpoint's results carry hashes, not texts;"
        " the llm-jp-eval v1.4.1 suites hold fewer distinct prompts, and one forgotten is only"
        " published again",
    )
