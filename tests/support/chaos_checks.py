"""What the chaos run must leave behind, read from the real components after the run.

"Duplicated" under ReplacingMergeTree: a redelivered result is inserted again (the raw table
can hold a key twice until a merge) and collapses on read. The effect is exactly once when
the deduplicated read (FINAL) holds exactly the expected number of rows and every expected
(checkpoint, dataset, sample, mode) key is present: a key counted twice in FINAL, or missing,
would be a duplicate or a loss. Raw counts are reported too, to show the redeliveries the
table absorbed.
"""

from __future__ import annotations

import grpc
import tritonclient.grpc.aio as triton_aio
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from kiseki.core.store import Store
from kiseki.v1 import control_pb2 as ctl
from kiseki.v1 import control_pb2_grpc
from kiseki.v1 import events_pb2 as ev

Key = tuple[str, str, int, str]


async def checkpoint_states(control_address: str, run_id: str) -> dict[str, str]:
    """checkpoint id → lifecycle state name, from the control API; empty while it is down."""
    async with grpc.aio.insecure_channel(control_address) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        try:
            reply = await stub.ListCheckpoints(ctl.ListCheckpointsRequest(run_id=run_id), timeout=5)
        except grpc.aio.AioRpcError:
            return {}
    return {
        c.checkpoint.checkpoint_id: ev.CheckpointState.Name(c.status.state).removeprefix(
            "CHECKPOINT_STATE_"
        )
        for c in reply.checkpoints
    }


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of `topic` that consumer group `group` has not committed yet (a topic whose
    partitions are not known yet counts as one record behind, never as caught up)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    # Subscribed (without a group), so the client fetches the topic's metadata at start: a
    # bare consumer knows no topic, and an empty partition list would read as no lag.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return 1
        ends = await consumer.end_offsets(partitions)
        lag = 0
        for partition, end in ends.items():
            meta = committed.get(partition)
            lag += end - (meta.offset if meta is not None and meta.offset >= 0 else 0)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def loaded_models(address: str) -> list[str]:
    """Models tritonserver reports READY."""
    async with triton_aio.InferenceServerClient(address) as client:
        index = await client.get_model_repository_index()
    return sorted(m.name for m in index.models if m.state == "READY")


def expected_keys(
    checkpoint_ids: list[str], dataset: str, samples: int, modes: tuple[str, ...]
) -> set[Key]:
    return {(c, dataset, i, m) for c in checkpoint_ids for i in range(samples) for m in modes}


def row_counts(store: Store, expected: set[Key]) -> dict[str, int]:
    [counts] = store.query(
        "SELECT (SELECT count() FROM sample_results) AS raw,"
        " (SELECT count() FROM sample_results FINAL) AS final"
    )
    found = {
        (r["checkpoint_id"], r["dataset"], int(r["sample_index"]), r["scoring_mode"]): int(r["n"])
        for r in store.query(
            "SELECT checkpoint_id, dataset, sample_index, scoring_mode, count() AS n"
            " FROM sample_results FINAL GROUP BY checkpoint_id, dataset, sample_index, scoring_mode"
        )
    }
    [jobs] = store.query(
        "SELECT countIf(failed = 1) AS failed, count() AS total FROM job_summaries FINAL"
    )
    statuses = store.query(
        "SELECT state, count() AS n FROM checkpoint_latest_status GROUP BY state"
    )
    return {
        "rows_expected": len(expected),
        "rows_raw": int(counts["raw"]),
        "rows_final": int(counts["final"]),
        "rows_missing": len(expected - set(found)),
        "rows_unexpected": len(set(found) - expected),
        "rows_duplicated": sum(n - 1 for n in found.values() if n > 1),
        "redeliveries_absorbed": int(counts["raw"]) - int(counts["final"]),
        "job_summaries": int(jobs["total"]),
        "job_summaries_failed": int(jobs["failed"]),
        **{f"stored_state_{s['state']}": int(s["n"]) for s in statuses},
    }
