"""`LocalStack.wait_ready` asks each service's real `/readyz` and names the ones not ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiseki.core.health import Health, HealthServer
from kiseki.stack.stack import LocalStack, StackSettings


def test_wait_ready_names_the_service_not_ready_then_returns_once_it_is(tmp_path: Path) -> None:
    stack = LocalStack(StackSettings(tmp_path, [], {}, tmp_path))
    ready_health, sink_health = Health(), Health()
    ready_health.set_ready(True)
    servers = [HealthServer(h, "127.0.0.1", 0) for h in (ready_health, sink_health)]
    for server in servers:
        server.start()
    try:
        stack.health_ports = {"runner-0": servers[0].port, "sink": servers[1].port}
        with pytest.raises(TimeoutError, match=r"not ready after 0 s: sink$"):
            stack.wait_ready(timeout_s=0.3)
        sink_health.set_ready(True)
        stack.wait_ready(timeout_s=5)
        assert stack.not_ready() == []
    finally:
        for server in servers:
            server.stop()
