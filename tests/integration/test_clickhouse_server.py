"""The local ClickHouse server launcher: a real server that answers HTTP and native TCP,
checks passwords, stops on SIGTERM and keeps its data across a restart."""

from __future__ import annotations

from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from kiseki.local.clickhouse import start_clickhouse
from kiseki.local.process import port_open


def test_serves_checks_passwords_and_keeps_data_across_a_restart(tmp_path: Path) -> None:
    server = start_clickhouse(tmp_path, users={"kiseki": "pw"})
    try:
        assert port_open(server.tcp_port)
        client = clickhouse_connect.get_client(
            host="127.0.0.1", port=server.http_port, username="kiseki", password="pw"
        )
        assert str(client.server_version).startswith("26.9")
        client.command("CREATE TABLE kept (n UInt64) ENGINE = MergeTree ORDER BY n")
        client.command("INSERT INTO kept SELECT number FROM numbers(5)")
        with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED"):
            clickhouse_connect.get_client(
                host="127.0.0.1", port=server.http_port, username="kiseki", password="wrong"
            )
    finally:
        assert server.stop() == -15  # ended by its SIGTERM, not killed
    assert not port_open(server.http_port)
    again = start_clickhouse(tmp_path)
    try:
        client = clickhouse_connect.get_client(host="127.0.0.1", port=again.http_port)
        assert client.command("SELECT sum(n) FROM kept") == 10
    finally:
        again.stop()


def test_removes_outdated_parts_serially_as_chdb_does(tmp_path: Path) -> None:
    """chDB's engine setting (core/store/chdb_engine.xml) holds on the server too."""
    server = start_clickhouse(tmp_path)
    try:
        client = clickhouse_connect.get_client(host="127.0.0.1", port=server.http_port)
        setting = "SELECT value FROM system.merge_tree_settings WHERE name = {name:String}"
        threshold = client.command(setting, {"name": "concurrent_part_removal_threshold"})
        assert threshold == 1_000_000_000
    finally:
        server.stop()
