"""What each finished checkpoint adds to the orchestrator's fleet, for
tools/bench/scheduling.py: the growth between two history sizes, on the Python heap
(tracemalloc) and in resident memory (protobuf messages live outside the Python heap; the
resident figure moves by whole pages and with the allocator's reuse, so it is the rougher)."""

from __future__ import annotations

import resource
import tracemalloc
from pathlib import Path
from typing import Any

from bench import _scheduling_sim as sim

from kiseki.core.ids import checkpoint_id
from kiseki.orchestrator.state import Fleet
from kiseki.v1 import events_pb2 as ev


def _finish(fleet: Fleet, first: int, count: int, runs: int = 8) -> None:
    """Checkpoints as the watcher writes them, each evaluated (50 jobs) and DONE."""
    for index in range(first, first + count):
        run, step = f"llm-jp-3-run{index % runs}", 1000 * (index // runs)
        uri = f"/checkpoints/{run}/iter_{step:07d}"
        checkpoint = ev.CheckpointDiscovered(
            checkpoint_id=checkpoint_id(run, step, uri), run_id=run, step=step, uri=uri,
            format=ev.CHECKPOINT_FORMAT_MEGATRON, size_bytes=2**34, model_size="13b",
            tokenizer_uri=f"/checkpoints/{run}/tokenizer",
        )  # fmt: skip
        checkpoint.discovered_at.FromNanoseconds(int(sim.EPOCH_S * 1e9) + index)
        view = fleet.add_checkpoint(checkpoint)
        view.jobs = {f"{checkpoint.checkpoint_id}/{i}" for i in range(sim.DATASETS * 2)}
        view.done = set(view.jobs)
        done = ev.CheckpointStatus(checkpoint_id=checkpoint.checkpoint_id, run_id=run)
        done.state = ev.CHECKPOINT_STATE_DONE
        done.changed_at.FromNanoseconds(int(sim.EPOCH_S * 1e9) + index)
        fleet.apply_status(done)


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def fleet_memory(first: int = 10_000, more: int = 10_000) -> dict[str, Any]:
    """Per finished checkpoint: the growth from `first` of them to `first + more`."""
    tracemalloc.start()
    fleet = Fleet()
    _finish(fleet, 0, first)
    heap_first = tracemalloc.get_traced_memory()[0]
    _finish(fleet, first, more)
    heap = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del fleet
    fleet = Fleet()
    _finish(fleet, 0, first)
    rss_first = _rss()
    _finish(fleet, first, more)
    rss = _rss()
    return {
        f"fleet_heap_mib_{first + more}": round(heap / 2**20, 2),
        "heap_bytes_per_finished_checkpoint": round((heap - heap_first) / more),
        "rss_bytes_per_finished_checkpoint": round((rss - rss_first) / more),
    }
