"""Every service started while what it depends on is down: it stays up, says once what it
cannot reach and which setting names it, answers `/readyz` 503 with the reason, retries with
back-off, and becomes ready once the dependency comes up; nothing restarts.

The broker: the whole local stack (watcher, orchestrator, two runners, sink) pointed at a port
where a Tansu starts later. The store: the sink pointed at a ClickHouse server that starts
later, on its port.
"""

from __future__ import annotations

import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kiseki.core.kafka_config import KafkaConfig
from kiseki.local.brokers import start_tansu
from kiseki.local.clickhouse import start_clickhouse
from kiseki.local.process import ManagedProcess, free_port, service_ready
from kiseki.stack.stack import LocalStack
from support.chaos import stack_settings
from support.polling import poll_until

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
RETRIES = 3  # failed attempts seen before the dependency comes up: it was retried, not exited


def _readyz(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
            return f"{reply.status} {reply.read().decode()}"
    except urllib.error.HTTPError as error:
        return f"{error.code} {error.read().decode()}"
    except OSError:
        return "unreachable"


def _retries(port: int, dependency: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except OSError:
        return 0.0
    pattern = rf'^kiseki_dependency_retries_total{{dependency="{dependency}"}} (\S+)$'
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _lines(log: Path, text: str) -> int:
    return sum(text in line for line in log.read_text(errors="replace").splitlines())


def test_the_stack_waits_for_a_broker_that_starts_late(tmp_path: Path) -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    run_root = tmp_path / "run"
    run_root.mkdir()
    stack = LocalStack(stack_settings(tmp_path, run_root, bootstrap))
    broker = None
    try:
        stack.start()
        assert stack.supervisor is not None
        ports = stack.health_ports

        def all_waiting() -> bool:
            return all(
                _readyz(p).startswith(f"503 waiting for Kafka at {bootstrap}: KafkaConnectionError")
                and _retries(p, "kafka") >= RETRIES
                for p in ports.values()
            )

        poll_until(all_waiting, timeout_s=120, interval_s=0.5)
        assert stack.check() == []
        broker = start_tansu(tmp_path / "tansu", port=port)
        stack.wait_ready(timeout_s=180)
        assert stack.supervisor.restarts() == dict.fromkeys(ports, 0)
        for name in ports:
            log = stack.settings.workdir / "logs" / f"{name}.log"
            assert _lines(log, f"cannot reach Kafka at {bootstrap}") == 1, name
            assert _lines(log, "check KISEKI_KAFKA_BOOTSTRAP") == 1, name
            assert _lines(log, f"Kafka at {bootstrap} answered") == 1, name
            assert _lines(log, "Unable connect to") == 0, name  # aiokafka's own, per attempt
            assert _lines(log, "Traceback") == 0, name
    finally:
        stack.stop()
        if broker is not None:
            broker.stop()


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
def test_the_sink_waits_for_a_store_that_starts_late(
    kafka_config: KafkaConfig, tmp_path: Path
) -> None:
    http_port, health_port = free_port(), free_port()
    url = f"http://default@127.0.0.1:{http_port}/kiseki"
    env = {
        **os.environ,
        "PYTHONPATH": str(SERVICES_DIR),
        "KISEKI_KAFKA_BOOTSTRAP": kafka_config.bootstrap_servers,
        "KISEKI_TOPIC_PREFIX": kafka_config.topic_prefix,
        "KISEKI_STORE_URL": url,
        "KISEKI_HEALTH_PORT": str(health_port),
        "KISEKI_QUERY_PORT": "0",
    }
    log = tmp_path / "sink.log"
    sink = ManagedProcess("sink", [sys.executable, "-m", "kiseki.sink"], log, env=env)
    server = None
    try:

        def waiting() -> bool:
            reason = _readyz(health_port)
            return reason.startswith(f"503 waiting for the store at {url}: StoreUnavailable") and (
                _retries(health_port, "store") >= RETRIES
            )

        poll_until(waiting, timeout_s=90, interval_s=0.5)
        assert sink.alive()
        server = start_clickhouse(tmp_path / "clickhouse", http_port=http_port)
        poll_until(lambda: service_ready(health_port), timeout_s=120, interval_s=0.5)
        assert sink.alive()
        assert _lines(log, f"cannot reach the store at {url}") == 1
        assert _lines(log, "check KISEKI_STORE_URL") == 1
        assert _lines(log, f"the store at {url} answered") == 1
        assert _lines(log, "Traceback") == 0
    finally:
        sink.stop()
        if server is not None:
            server.stop()
