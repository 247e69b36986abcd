"""Credentials never reach a log: each service runs configured with a SASL password, a
ClickHouse password and a control-API token, at debug level, into the failure paths a wrong
or unreachable server takes it (where errors are printed; at debug level the clients' own
lines on every try too), and its whole log is searched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kiseki.local.brokers import LocalBroker
from kiseki.local.process import ManagedProcess, free_port
from kiseki.stack.stack import SERVICES_DIR
from support.polling import poll_until

SECRETS = {
    "KISEKI_KAFKA_SASL_PASSWORD": "kafka-pw-7f3a1e",
    "KISEKI_CLICKHOUSE_PASSWORD": "clickhouse-pw-91bd0c",
    "KISEKI_CONTROL_TOKEN": "control-token-4c2e88",
}
SERVICES = ["sink", "sink-clickhouse", "orchestrator", "runner", "watcher"]


def _environment(service: str, broker: LocalBroker, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "policy.json").write_text(json.dumps({"runs": {"*": {"suites": ["x"]}}}))
    (tmp_path / "runs.json").write_text(json.dumps([{"run_id": "r", "root": str(tmp_path)}]))
    store = (
        f"http://kiseki@127.0.0.1:{free_port()}/kiseki"
        if service == "sink-clickhouse"
        else f"chdb:{tmp_path / 'store'}"
    )
    return {
        **SECRETS,
        "PYTHONPATH": str(SERVICES_DIR),
        "KISEKI_LOG_LEVEL": "DEBUG",
        "KISEKI_KAFKA_BOOTSTRAP": broker.bootstrap_servers,
        # The broker speaks PLAINTEXT: the SASL handshake fails, and says so.
        "KISEKI_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KISEKI_KAFKA_SASL_MECHANISM": "PLAIN",
        "KISEKI_KAFKA_SASL_USERNAME": "kiseki",
        "KISEKI_KAFKA_REQUEST_TIMEOUT_MS": "3000",
        "KISEKI_STORE_URL": store,
        "KISEKI_POLICY_FILE": str(tmp_path / "policy.json"),
        "KISEKI_ORCHESTRATOR_WORKDIR": str(tmp_path / "orchestrator"),
        "KISEKI_CONTROL_PORT": "0",
        "KISEKI_DATASETS_DIR": str(tmp_path),
        "KISEKI_WATCH_RUNS_FILE": str(tmp_path / "runs.json"),
    }


@pytest.mark.parametrize("service", SERVICES)
def test_no_secret_in_a_failing_services_log(
    service: str, tansu: LocalBroker, tmp_path: Path
) -> None:
    module = f"kiseki.{service.split('-')[0]}"
    log_path = tmp_path / f"{service}.log"
    process = ManagedProcess(
        service,
        [sys.executable, "-m", module],
        log_path,
        env=_environment(service, tansu, tmp_path),
    )
    try:

        def failed_visibly() -> bool:
            text = log_path.read_text(errors="replace")
            # A server that does not answer is waited for (core.startup): its one line.
            return any(sign in text for sign in ('"level": "error"', "Traceback", "cannot reach"))

        poll_until(failed_visibly, timeout_s=90, interval_s=0.5)
    finally:
        process.stop(grace_s=10)
    text = log_path.read_text(errors="replace")
    leaked = [name for name, secret in SECRETS.items() if secret in text]
    assert leaked == [], f"{leaked} found in {log_path}:\n{text[-3000:]}"
