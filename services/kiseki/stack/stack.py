"""`kiseki up`: every service as a local process on the embedded defaults.

Tansu unless KISEKI_KAFKA_BOOTSTRAP names a broker, chDB under the work directory unless
KISEKI_STORE_URL names a ClickHouse server, tritonserver started by the orchestrator. The
sink owns the chDB directory while the stack runs (chDB has one owner) and serves read-only
SQL over it (kiseki.v1.Query) at the address written to `<workdir>/query.address`, where
the CLI finds it (the control API's at `<workdir>/control.address`). Before the sink
starts, the stack writes each run's majority baselines.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiseki.core.config import load_config
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.store import apply_schema, open_store
from kiseki.evaluation.datasets import DatasetError
from kiseki.evaluation.metrics import MetricUnavailable
from kiseki.local.brokers import LocalBroker, start_tansu
from kiseki.local.process import free_port, service_ready
from kiseki.orchestrator.policy import parse_policies
from kiseki.report.baselines import baseline_rows, store_baselines
from kiseki.stack.supervisor import ServiceSpec, Supervisor
from kiseki.stack.workdir import (
    CONTROL_ADDRESS_FILE,
    QUERY_ADDRESS_FILE,
    STORE_URL_FILE,
    stack_store_url,
)

SERVICES_DIR = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchedDir:
    run_id: str
    root: Path
    tokens_per_step: int = 0


@dataclass
class StackSettings:
    workdir: Path
    runs: list[WatchedDir]
    policy: dict[str, Any]
    datasets_dir: Path
    runners: int = 1
    topic_prefix: str = "kiseki"
    control_port: int = field(default_factory=free_port)
    query_port: int = field(default_factory=free_port)
    # A broker the caller runs (the chaos test restarts its own); else KISEKI_KAFKA_BOOTSTRAP
    # or a Tansu started here.
    bootstrap: str = ""
    # Settings passed to every service on top of the stack's own (tuning, credentials).
    environment: dict[str, str] = field(default_factory=dict)
    # A ClickHouse server (http(s)://user@host:port/db); else KISEKI_STORE_URL or chDB here.
    store_url: str = ""


class LocalStack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.broker: LocalBroker | None = None
        self.supervisor: Supervisor | None = None
        self.health_ports: dict[str, int] = {}
        self._kafka: KafkaConfig | None = None

    @property
    def store_url(self) -> str:
        return self.settings.store_url or stack_store_url(self.settings.workdir)

    @property
    def kafka(self) -> KafkaConfig:
        """The broker settings the services were given (known once started)."""
        if self._kafka is None:
            raise RuntimeError("the stack has not been started")
        return self._kafka

    @property
    def control_address(self) -> str:
        return f"127.0.0.1:{self.settings.control_port}"

    @property
    def query_address(self) -> str:
        return f"127.0.0.1:{self.settings.query_port}"

    @property
    def query_address_file(self) -> Path:
        return self.settings.workdir / QUERY_ADDRESS_FILE

    def _write_baselines(self) -> None:
        """Each watched run's majority baselines, from its policy's suites and few-shot count."""
        book = parse_policies(self.settings.policy)
        rows = []
        for run in self.settings.runs:
            policy = book.for_run(run.run_id)
            if policy is None:
                continue
            try:
                settings = {name: policy.settings_for(name) for name in policy.suites}
                rows += baseline_rows(run.run_id, self.settings.datasets_dir, settings)
            except (DatasetError, MetricUnavailable) as error:  # the runners report them too
                log.warning("no majority baselines", extra={"run": run.run_id, "error": str(error)})
        store = open_store(self.store_url, os.environ.get("KISEKI_CLICKHOUSE_PASSWORD", ""))
        try:
            apply_schema(store)
            store_baselines(store, rows)
        finally:
            store.close()

    def _write_files(self) -> tuple[Path, Path]:
        runs_file = self.settings.workdir / "runs.json"
        runs = [
            {"run_id": r.run_id, "root": str(r.root), "tokens_per_step": r.tokens_per_step}
            for r in self.settings.runs
        ]
        runs_file.write_text(json.dumps(runs, indent=1))
        policy_file = self.settings.workdir / "policy.json"
        policy_file.write_text(json.dumps(self.settings.policy, indent=1))
        return runs_file, policy_file

    def _environment(self, bootstrap: str, runs_file: Path, policy_file: Path) -> dict[str, str]:
        settings = self.settings
        return {
            "PYTHONPATH": str(SERVICES_DIR),
            "KISEKI_KAFKA_BOOTSTRAP": bootstrap,
            "KISEKI_TOPIC_PREFIX": settings.topic_prefix,
            "KISEKI_STORE_URL": self.store_url,
            "KISEKI_POLICY_FILE": str(policy_file),
            "KISEKI_ORCHESTRATOR_WORKDIR": str(settings.workdir / "orchestrator"),
            "KISEKI_CONTROL_PORT": str(settings.control_port),
            "KISEKI_DATASETS_DIR": str(settings.datasets_dir),
            "KISEKI_WATCH_RUNS_FILE": str(runs_file),
            "KISEKI_QUERY_PORT": str(settings.query_port),
            "KISEKI_CHECKPOINT_ROOTS": ",".join(str(r.root) for r in settings.runs),
            **settings.environment,
        }

    def start(self) -> None:
        self.settings.workdir.mkdir(parents=True, exist_ok=True)
        bootstrap = self.settings.bootstrap or os.environ.get("KISEKI_KAFKA_BOOTSTRAP", "")
        if not bootstrap:
            self.broker = start_tansu(self.settings.workdir)
            bootstrap = self.broker.bootstrap_servers
        env = self._environment(bootstrap, *self._write_files())
        self._kafka = load_config(KafkaConfig, {**os.environ, **env})
        self._write_baselines()
        modules = {
            "sink": "kiseki.sink",
            "orchestrator": "kiseki.orchestrator",
            "watcher": "kiseki.watcher",
            **{f"runner-{i}": "kiseki.runner" for i in range(self.settings.runners)},
        }
        # A fixed health port per service (kept across restarts), so the stack can ask each
        # one whether it is ready.
        self.health_ports = {name: free_port() for name in modules}
        specs = [
            ServiceSpec.module(
                name, module, {**env, "KISEKI_HEALTH_PORT": str(self.health_ports[name])}
            )
            for name, module in modules.items()
        ]
        self.supervisor = Supervisor(specs, self.settings.workdir / "logs")
        self.query_address_file.write_text(self.query_address + "\n")
        store_file = self.settings.workdir / STORE_URL_FILE
        if self.store_url.startswith(("http://", "https://")):
            store_file.write_text(self.store_url + "\n")
        else:
            store_file.unlink(missing_ok=True)
        (self.settings.workdir / CONTROL_ADDRESS_FILE).write_text(self.control_address + "\n")

    def not_ready(self) -> list[str]:
        """The services whose `/readyz` does not answer 200 now."""
        return [name for name, port in self.health_ports.items() if not service_ready(port)]

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Until every service is ready (the sink and runners in their consumer groups): a
        checkpoint written before then would wait for them. Restarts crashed services."""
        deadline = time.monotonic() + timeout_s
        while waiting := self.not_ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout_s:.0f} s: {', '.join(waiting)}")
            self.check()
            time.sleep(0.2)

    def check(self) -> list[str]:
        return self.supervisor.check() if self.supervisor else []

    def stop(self) -> None:
        self.query_address_file.unlink(missing_ok=True)
        (self.settings.workdir / CONTROL_ADDRESS_FILE).unlink(missing_ok=True)
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.broker is not None:
            self.broker.stop()
