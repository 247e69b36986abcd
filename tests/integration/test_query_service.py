"""The Query service through a real gRPC server over a chDB store: rows back, writes and
file access refused, and the CLI working against it as against a running `kiseki up`.

chDB only: the service exists because a chDB directory has one owning process (the sink);
a server's clients connect to the server itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from kiseki.cli import main
from kiseki.core.store import Store, StoreError, StoreUnavailable
from kiseki.core.store.query_api import RemoteStore, query_server
from kiseki.local.process import free_port
from kiseki.stack.workdir import reader_store_url
from kiseki.v1 import query_pb2, query_pb2_grpc
from support.analytics import RUN, fill


@pytest.fixture
async def address(chdb_store: Store) -> AsyncIterator[str]:
    fill(chdb_store)
    server = query_server(chdb_store, "127.0.0.1", 0)
    await server.start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        await server.stop(grace_s=0.5)


async def test_rows_come_back_with_their_types(address: str) -> None:
    remote = RemoteStore(address)
    try:
        rows = await asyncio.to_thread(
            remote.query,
            "SELECT step, tokens_seen, score FROM scores WHERE run_id = {run:String}"
            " AND dataset = 'jsquad' AND metric = 'char_f1' ORDER BY step",
            {"run": RUN},
        )
    finally:
        remote.close()
    assert rows[-1] == {"step": 5, "tokens_seen": 5000, "score": 1.0}
    assert len(rows) == 6


async def test_writes_and_files_are_refused(address: str, chdb_store: Store) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = query_pb2_grpc.QueryStub(channel)
        for sql in ("DROP TABLE runs", "SELECT * FROM file('/etc/hostname', 'LineAsString')"):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Run(query_pb2.QueryRequest(sql=sql))
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert chdb_store.query("EXISTS TABLE runs") == [{"result": 1}]
    remote = RemoteStore(address)
    with pytest.raises(StoreError, match="read-only"):
        remote.insert_rows("runs", [{"run_id": "x"}])
    remote.close()


async def test_rows_over_the_limit_are_cut(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await query_pb2_grpc.QueryStub(channel).Run(
            query_pb2.QueryRequest(sql="SELECT number FROM numbers(10)", max_rows=3)
        )
    assert [json.loads(r) for r in reply.rows_json] == [{"number": n} for n in range(3)]
    assert reply.truncated


async def test_the_cli_reads_a_running_stack_through_it(
    address: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "query.address").write_text(address + "\n")
    monkeypatch.delenv("KISEKI_STORE_URL", raising=False)
    url = reader_store_url(tmp_path)
    assert url == f"grpc://{address}"
    code = await asyncio.to_thread(main, ["shapes", RUN, "--store", url, "--format", "json"])
    assert code == 0
    assert {r["category"] for r in json.loads(capsys.readouterr().out)} == {"NLI", "RC", "AVG"}
    code = await asyncio.to_thread(main, ["scores", "nope", "--store", url])
    assert code == 2
    assert "unknown run nope" in capsys.readouterr().err


def test_no_server_is_unavailable() -> None:
    remote = RemoteStore(f"127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(StoreUnavailable, match="does not answer"):
        remote.query("SELECT 1")
    remote.close()
