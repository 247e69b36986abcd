"""A real ClickHouse 26.9 server (HTTP and native TCP) from the chdb-core wheel.

chDB's embedded engine cannot listen (`SYSTEM START LISTEN` needs the servers callback that
only its one-shot entry point sets): a process of its own chdirs into a run directory that
holds config.xml, and makes one call of `chdb._chdb.query` that starts the listeners and then
sleeps, serving other connections meanwhile. It is clickhouse-local serving (any file is
readable through `file()`), so it binds 127.0.0.1 only: tests, benches and local runs.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from kiseki.core.store.embedded import ENGINE_CONFIG
from kiseki.local.process import ManagedProcess, free_port

# One call of the entry point per process; TabSeparated becomes the HTTP default format
# (clickhouse-connect cannot read the server version from CSV). The last statement only
# sleeps, a row a second for ~30 years, and holds the call open.
_SERVE = (
    "import os, sys; os.chdir(sys.argv[1]); from chdb import _chdb;"
    " _chdb.query(sys.argv[2], 'TabSeparated', path=sys.argv[3])"
)
_LISTEN = (
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP;"
    " SELECT sleepEachRow(1) FROM numbers(1000000000) SETTINGS max_block_size = 1,"
    " function_sleep_max_microseconds_per_block = 0, max_execution_time = 0 FORMAT Null"
)


@dataclass
class LocalClickHouse:
    http_port: int
    tcp_port: int
    data_dir: Path
    process: ManagedProcess

    def url(self, database: str = "default", user: str = "default") -> str:
        return f"http://{user}@127.0.0.1:{self.http_port}/{database}"

    def stop(self) -> int:
        return self.process.stop(grace_s=10.0)


def _engine_settings() -> str:
    """The settings chDB's engine gets (its parts removed serially, see embedded.py): the
    server is the same engine, as long-lived, with the same global thread pool."""
    root = ElementTree.fromstring(ENGINE_CONFIG.read_text())
    return "".join(ElementTree.tostring(child, encoding="unicode") for child in root)


def _config(http_port: int, tcp_port: int, listen_host: str) -> str:
    return (
        f"<clickhouse><listen_host>{listen_host}</listen_host>"
        f"<http_port>{http_port}</http_port><tcp_port>{tcp_port}</tcp_port>"
        f"<users_config>users.xml</users_config>{_engine_settings()}</clickhouse>\n"
    )


def _user(
    name: str, password: str, admin: bool, network: str, grants: Sequence[str] | None = None
) -> str:
    """`grants`: the user's GRANT statements (without `TO`); None: every privilege."""
    access = "<access_management>1</access_management>" if admin else ""
    if grants is not None:
        access += "<grants>" + "".join(f"<query>{escape(g)}</query>" for g in grants)
        access += "</grants>"
    return (
        f"<{name}><password>{escape(password)}</password><networks><ip>{network}</ip></networks>"
        f"<profile>default</profile><quota>default</quota>{access}</{name}>"
    )


def _users(users: dict[str, str], network: str, grants: Mapping[str, Sequence[str]]) -> str:
    """`default` stays passwordless: the serving session itself logs in as it."""
    entries = _user("default", "", True, network) + "".join(
        _user(name, password, False, network, grants.get(name)) for name, password in users.items()
    )
    return (
        "<clickhouse><profiles><default/></profiles><quotas><default/></quotas>"
        f"<users>{entries}</users></clickhouse>\n"
    )


def server_files(
    http_port: int,
    tcp_port: int,
    users: dict[str, str],
    listen_host: str = "127.0.0.1",
    grants: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, str]:
    """config.xml and users.xml of a server's run directory. A listen host other than
    127.0.0.1 is for a network namespace of its own (a pod): its users log in from anywhere."""
    network = "127.0.0.1" if listen_host == "127.0.0.1" else "::/0"
    return {
        "config.xml": _config(http_port, tcp_port, listen_host),
        "users.xml": _users(users, network, grants or {}),
    }


def server_argv(python: str, run_dir: str, data_dir: str) -> list[str]:
    """The server process: `python` chdirs into `run_dir` (server_files there) and serves
    the data under `data_dir` until it is stopped."""
    return [python, "-c", _SERVE, run_dir, _LISTEN, data_dir]


def _pings(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1.0) as reply:
            return bytes(reply.read()).strip() == b"Ok."
    except OSError:
        return False


def start_clickhouse(
    workdir: Path,
    logs: Path | None = None,
    users: dict[str, str] | None = None,
    timeout_s: float = 60.0,
    http_port: int | None = None,
    grants: Mapping[str, Sequence[str]] | None = None,
) -> LocalClickHouse:
    """A server with its data under `workdir` (kept across restarts on the same workdir), its
    log under `logs` (default `workdir`), and password users `users` (name -> password) besides
    the passwordless `default`, each with every privilege or, when `grants` names it, only
    those its GRANT statements give; `http_port` brings a restarted server back where its
    clients look (default: a free port)."""
    http_port, tcp_port = http_port or free_port(), free_port()
    run_dir, data_dir = workdir / f"clickhouse-{http_port}", workdir / "clickhouse-data"
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, text in server_files(http_port, tcp_port, users or {}, grants=grants).items():
        (run_dir / name).write_text(text)
    argv = server_argv(sys.executable, str(run_dir), str(data_dir))
    process = ManagedProcess("clickhouse", argv, (logs or workdir) / f"clickhouse-{http_port}.log")
    process.wait_ready(lambda: _pings(http_port), timeout_s)
    return LocalClickHouse(http_port, tcp_port, data_dir, process)
