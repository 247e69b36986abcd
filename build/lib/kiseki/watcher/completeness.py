"""Evidence that files are whole: safetensors headers and lengths, weights indexes, JSON
that parses, and a fingerprint (names, sizes, mtimes) of a directory for the quiet period.

Everything here raises `Incomplete` with a reason a person can act on. Only regular files
are opened (a FIFO named `model.safetensors` would block a read forever), and nothing is
followed out of the run root.
"""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path, PurePosixPath
from typing import Any

Fingerprint = tuple[tuple[str, int, int], ...]
# The safetensors format itself caps its JSON header at 100 MB; more means a corrupt prefix.
_MAX_HEADER_BYTES = 100_000_000
_INDEX = "model.safetensors.index.json"


class Incomplete(Exception):
    """Not (yet) a complete checkpoint; the message says what is missing or wrong."""


def regular_size(path: Path) -> int:
    """Size of a regular file; Incomplete if it is missing or something else."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise Incomplete(f"{path.name} not written yet") from None
    if not stat.S_ISREG(info.st_mode):
        raise Incomplete(f"{path.name} is not a regular file")
    return info.st_size


def read_json(path: Path) -> Any:
    """The parsed file; a file cut short is not JSON (its closing bracket comes last)."""
    regular_size(path)
    try:
        return json.loads(path.read_bytes())
    except ValueError as error:
        raise Incomplete(f"{path.name} is not whole JSON yet ({error})") from None


def check_safetensors(path: Path) -> None:
    """8-byte little-endian header length, a JSON header, then exactly the data it describes."""
    size = regular_size(path)
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise Incomplete(f"{path.name}: shorter than a safetensors header")
        (header_length,) = struct.unpack("<Q", prefix)
        if header_length > _MAX_HEADER_BYTES or 8 + header_length > size:
            raise Incomplete(f"{path.name}: header runs past the end of the file")
        raw = handle.read(header_length)
    try:
        header = json.loads(raw)
        ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
        expected = 8 + header_length + max(ends, default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise Incomplete(f"{path.name}: header is not a safetensors header ({error})") from None
    if size < expected:
        raise Incomplete(f"{path.name}: {size} of {expected} bytes written")
    if size > expected:
        raise Incomplete(f"{path.name}: {size - expected} bytes more than its header describes")


def index_shards(index: Path) -> list[str]:
    """Shard file names of a `*.safetensors.index.json`, each inside the index's directory."""
    content = read_json(index)
    try:
        shards = sorted(set(content["weight_map"].values()))
    except (TypeError, KeyError, AttributeError) as error:
        raise Incomplete(f"{index.name} has no weight_map ({error!r})") from None
    for shard in shards:
        relative = PurePosixPath(str(shard))
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise Incomplete(f"{index.name} names a shard outside its directory: {shard!r}")
    return [str(shard) for shard in shards]


def check_safetensors_present(directory: Path) -> int:
    """Every index's shards and every top-level safetensors file whole; how many were checked."""
    checked: set[str] = set()
    for index in sorted(directory.glob("*.safetensors.index.json")):
        for shard in index_shards(index):
            check_safetensors(directory / shard)
            checked.add(shard)
    for path in sorted(directory.glob("*.safetensors")):
        if path.name not in checked:
            check_safetensors(path)
            checked.add(path.name)
    return len(checked)


def check_hf_weights(directory: Path) -> None:
    """save_pretrained: config.json, and a whole model.safetensors or index with whole shards."""
    read_json(directory / "config.json")
    # Shards come before their index: without index or single file, nothing says all are there.
    if not any((directory / n).exists() for n in ("model.safetensors", _INDEX)):
        raise Incomplete(f"neither model.safetensors nor {_INDEX} written yet")
    check_safetensors_present(directory)


def require_files(directory: Path, *names: str) -> None:
    for name in names:
        regular_size(directory / name)


def _resolves_under(link: Path, root: Path) -> bool:
    try:
        return link.resolve(strict=False).is_relative_to(root)
    except (RuntimeError, OSError):  # a loop resolves nowhere: not under the root
        return False


def fingerprint(directory: Path, root: Path) -> tuple[Fingerprint, int]:
    """Every file below `directory` (path, size, mtime) and their total size. Links are
    followed only to check them: one that leaves `root` (resolved) makes it Incomplete."""
    entries: list[tuple[str, int, int]] = []
    pending = [directory]
    while pending:
        with os.scandir(pending.pop()) as listing:
            for entry in listing:
                path = Path(entry.path)
                if entry.is_symlink() and not _resolves_under(path, root):
                    raise Incomplete(f"{path.relative_to(directory)} links outside the run root")
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif entry.is_file():
                    info = entry.stat()
                    relative = str(path.relative_to(directory))
                    entries.append((relative, info.st_size, info.st_mtime_ns))
    entries.sort()
    return tuple(entries), sum(size for _, size, _ in entries)
