"""A significant drop is announced while the run trains: the real sink on a real broker and a
chDB store, fed per-sample results with a planted regression."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY

from kiseki.core.health import Health
from kiseki.core.kafka import ProtoProducer, ensure_topics
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_tail import TopicTail
from kiseki.core.service import ServiceContext
from kiseki.core.status import checkpoint_status, regression_status
from kiseki.core.store import Store
from kiseki.report import regressions
from kiseki.sink.config import SinkConfig
from kiseki.sink.loop import run_sink
from kiseki.stack.progress import Announcements as Progress
from kiseki.v1 import events_pb2 as ev
from support.polling import poll_until_async

RUN = "alerts"
SINK = SinkConfig(poll_timeout_ms=200)


def _results(
    step: int,
    dataset: str,
    wrong: set[int],
    indices: Sequence[int],
    shard: int = 0,
    shards: int = 1,
) -> ev.JobResults:
    """One shard's job: right on every sample of `indices` but those in `wrong`."""
    checkpoint, job = f"{RUN}-{step}", f"{dataset}-{shard}of{shards}-{step}"
    results = ev.JobResults(
        summary=ev.JobSummary(
            job_id=job,
            checkpoint_id=checkpoint,
            run_id=RUN,
            step=step,
            dataset=dataset,
            scoring_mode=ev.SCORING_MODE_GENERATE,
            shard_index=shard,
            shard_count=shards,
            num_samples=len(indices),
        )
    )
    for index in indices:
        results.samples.add(
            job_id=job,
            checkpoint_id=checkpoint,
            run_id=RUN,
            step=step,
            dataset=dataset,
            sample_index=index,
            scoring_mode=ev.SCORING_MODE_GENERATE,
            metrics={"exact_match": 0.0 if index in wrong else 1.0},
        )
    return results


def _counted(dataset: str) -> float:
    labels = {"run": RUN, "dataset": dataset, "mode": "generate"}
    return REGISTRY.get_sample_value("kiseki_regressions_total", labels) or 0.0


class Announcements:
    """The regression events on the status topic, read from its start."""

    def __init__(self, kafka: KafkaConfig) -> None:
        self.tail: TopicTail[ev.CheckpointStatus] = TopicTail(
            kafka, {kafka.topics.status: ev.CheckpointStatus}
        )
        self.seen: list[ev.CheckpointStatus] = []

    async def at_least(self, count: int) -> bool:
        got = await self.tail.read(timeout_ms=200)
        self.seen += [d.message for d in got if d.message.HasField("regression")]
        return len(self.seen) >= count

    def keys(self) -> list[tuple[str, int, str, int]]:
        return [
            (s.regression.dataset, s.step, s.regression.against, s.regression.against_step)
            for s in self.seen
        ]


async def test_a_planted_drop_is_announced_once_when_its_checkpoint_is_whole(
    kafka_config: KafkaConfig, chdb_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kiseki.sink.announce")
    topics, everything = kafka_config.topics, range(20)
    await ensure_topics(kafka_config, topics.partitions())
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    before = {d: _counted(d) for d in ("jnli", "jamp")}
    context = ServiceContext(name="sink", health=Health())
    sink = asyncio.create_task(run_sink(context, kafka_config, SINK, chdb_store))
    heard = Announcements(kafka_config)
    await heard.tail.start()

    async def send(results: ev.JobResults) -> None:
        await producer.send(topics.results, results, key=results.summary.checkpoint_id)

    try:
        for step in (100, 200, 300):
            discovered = ev.CheckpointDiscovered(
                checkpoint_id=f"{RUN}-{step}", run_id=RUN, step=step, tokens_seen=step * 1000
            )
            await producer.send(topics.checkpoints, discovered, key=RUN)
        for dataset in ("jnli", "jamp"):
            await send(_results(100, dataset, set(), everything))
        # jnli at 200 in two shards: the first alone holds six falls (p = 2 * 0.5**6), which a
        # check of a half-stored checkpoint would announce before jamp's drop, sent after it.
        await send(_results(200, "jnli", set(range(6)), range(10), 0, 2))
        await send(_results(200, "jamp", set(range(10)), everything))  # ten falls
        await send(_results(200, "nosuch", {0}, everything))  # no category: nothing to judge
        await send(ev.JobResults(summary=ev.JobSummary(job_id="empty", run_id=RUN, step=200)))
        await poll_until_async(lambda: heard.at_least(1), timeout_s=60, interval_s=0)
        assert heard.keys() == [("jamp", 200, "previous", 100)]  # jnli's half was not judged

        await send(_results(200, "jnli", {10, 11}, range(10, 20), 1, 2))  # 8 of 20 fall: p<.05
        await poll_until_async(lambda: heard.at_least(2), timeout_s=60, interval_s=0)
        await send(_results(200, "jnli", {10, 11}, range(10, 20), 1, 2))  # a redelivery
        await send(_results(300, "jamp", set(everything), everything))  # against 200 and 100
        await poll_until_async(lambda: heard.at_least(4), timeout_s=60, interval_s=0)
    finally:
        context.stopping.set()
        await asyncio.wait_for(sink, 30)
        await heard.tail.stop()
        await producer.stop()

    assert heard.keys() == [
        ("jamp", 200, "previous", 100),
        ("jnli", 200, "previous", 100),
        ("jamp", 300, "previous", 200),
        ("jamp", 300, "best", 100),
    ]
    assert all(
        s.state == ev.CHECKPOINT_STATE_UNSPECIFIED and s.source == "sink" for s in heard.seen
    )
    reported = {
        (r["dataset"], r["step"], r["against"], r["against_step"]): r["p_value"]
        for r in regressions.regressions(chdb_store, RUN)
    }
    assert {
        k: s.regression.p_value for k, s in zip(heard.keys(), heard.seen, strict=True)
    } == reported
    assert reported[("jnli", 200, "previous", 100)] == 2 * 0.5**8
    assert heard.seen[1].regression.fell_samples == "0,1,2,3,4,5,10,11"
    assert {d: _counted(d) - before[d] for d in before} == {"jnli": 1.0, "jamp": 3.0}
    states = chdb_store.query("SELECT count() AS n FROM checkpoint_status")
    assert states == [{"n": 0}]  # the announcements are no lifecycle change
    alerts = chdb_store.query("SELECT count() AS n FROM regression_alerts FINAL")
    assert alerts == [{"n": 4}]
    logged = [r.__dict__ for r in caplog.records if r.getMessage() == "significant drop"]
    fields = ("run", "step", "dataset", "mode", "against", "against_step", "delta", "p_value")
    assert [tuple(r[f] for f in fields) for r in logged][1] == (
        RUN,
        200,
        "jnli",
        "generate",
        "previous",
        100,
        -0.4,
        2 * 0.5**8,
    )
    assert len(logged) == 4
    assert not [r for r in caplog.records if r.getMessage() == "regression check failed"]


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_kiseki_up_prints_the_announcements_of_its_run(kafka_config: KafkaConfig) -> None:
    topic = kafka_config.topics.status
    progress = Progress(kafka_config, RUN)
    await progress.start()
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    drop = ev.Regression(
        dataset="jnli",
        scoring_mode=ev.SCORING_MODE_GENERATE,
        against="best",
        against_step=100,
        score=0.5,
        against_score=1.0,
        delta=-0.5,
        p_value=2 * 0.5**10,
        fell=10,
    )
    try:
        done = checkpoint_status("c", RUN, 200, ev.CHECKPOINT_STATE_DONE, source="orchestrator")
        for status in (done, regression_status("c", RUN, 200, drop)):
            await producer.send(topic, status, key="c")
        await producer.send(topic, regression_status("o", "other-run", 5, drop), key="o")
        lines: list[str] = []

        async def printed() -> bool:
            lines.extend(await progress.lines(timeout_ms=200))
            return bool(lines)

        await poll_until_async(printed, timeout_s=30, interval_s=0)
        assert not await progress.lines(timeout_ms=500)  # nothing of the other run or the DONE
    finally:
        await progress.stop()
        await producer.stop()
    assert lines == [
        "significant drop at step 200: jnli (generate) 0.5 against 1 at the best checkpoint"
        " (step 100), delta -0.5, p = 0.00195; 10 samples fell"
    ]
