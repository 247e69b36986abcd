"""The layout of the directory `kiseki up` keeps its state in, and the store URL that follows
from it: the one home of both, for the stack that writes them and the commands that read them."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_WORKDIR = Path(".artifacts/up")
QUERY_ADDRESS_FILE = "query.address"
CONTROL_ADDRESS_FILE = "control.address"
# Written when the stack's store is a ClickHouse server: the commands then read it directly.
STORE_URL_FILE = "store.url"


def embedded_store_url(workdir: Path) -> str:
    return f"chdb:{workdir / 'store'}"


def stack_store_url(workdir: Path) -> str:
    """The store the stack's services write: KISEKI_STORE_URL when set, else chDB in workdir."""
    return os.environ.get("KISEKI_STORE_URL") or embedded_store_url(workdir)


def reader_store_url(workdir: Path = DEFAULT_WORKDIR) -> str:
    """The store a command reads: KISEKI_STORE_URL; else the server a stack writes to; else
    the Query service of a running stack (the chDB store belongs to its sink then); else the
    chDB store a stack left in workdir."""
    if os.environ.get("KISEKI_STORE_URL"):
        return os.environ["KISEKI_STORE_URL"]
    if (workdir / STORE_URL_FILE).is_file():
        return (workdir / STORE_URL_FILE).read_text().strip()
    address_file = workdir / QUERY_ADDRESS_FILE
    if address_file.is_file():
        return "grpc://" + address_file.read_text().strip()
    return embedded_store_url(workdir)
