"""Prompt texts travel once, on the prompts topic; results name them by hash.

A runner's PromptsOut against a real broker publishes each prompt's text once however many
checkpoints ask it, strips it from the samples it hands back (a text too long for a message
stays in its sample), and the real sink on each store joins every sample row to its text; a
prompts record whose text does not hash to its key is dead-lettered and nothing else is lost.
"""

from __future__ import annotations

import asyncio

import pytest

from kiseki.core.health import Health
from kiseki.core.ids import prompt_hash
from kiseki.core.kafka import ProtoProducer, ensure_topics
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_tail import TopicTail
from kiseki.core.service import ServiceContext
from kiseki.core.store import Store
from kiseki.runner.chunks import split_results
from kiseki.runner.prompts import PromptsOut, texts_header
from kiseki.sink.config import SinkConfig
from kiseki.sink.loop import run_sink
from kiseki.v1 import events_pb2 as ev
from support.kafka import prompt_records
from support.polling import poll_until_async

PROMPTS = [f"### 指示:\n前提と仮説の関係を答えてください。{i}\n### 応答:\n" for i in range(6)]
LONG = "長" * 400_000  # ~1.2 MB of UTF-8: larger than a message


def _samples(checkpoint: str, prompts: list[str]) -> list[ev.SampleResult]:
    return [
        ev.SampleResult(
            job_id=f"{checkpoint}-job",
            checkpoint_id=checkpoint,
            run_id="run",
            step=int(checkpoint[2:]),
            dataset="jnli",
            sample_index=index,
            scoring_mode=ev.SCORING_MODE_GENERATE,
            prompt=prompt,
            prompt_hash=prompt_hash(prompt),
            raw_output="entailment",
            prediction="entailment",
            gold="entailment",
            metrics={"exact_match": 1.0},
        )
        for index, prompt in enumerate(prompts)
    ]


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_each_text_once_and_every_row_joined_to_it(
    kafka_config: KafkaConfig, store: Store
) -> None:
    await ensure_topics(kafka_config, kafka_config.topics.partitions())
    producer = ProtoProducer(kafka_config, "test-runner")
    await producer.start()
    context = ServiceContext(name="sink", health=Health())
    config = SinkConfig(poll_timeout_ms=200)
    sink = asyncio.create_task(run_sink(context, kafka_config, config, store))
    prompts_out = PromptsOut(
        producer, kafka_config.topics.prompts, kafka_config.max_message_bytes, 1000
    )
    try:
        for step in (100, 200, 300):  # three checkpoints ask the same prompts
            checkpoint = f"ck{step}"
            samples = _samples(checkpoint, [*PROMPTS, LONG, "misnamed"])
            samples[-1].prompt_hash = prompt_hash("another text")  # not its text's: inline
            bare = await prompts_out.publish(samples)
            assert [s.prompt for s in bare] == [""] * len(PROMPTS) + [LONG, "misnamed"]
            assert [s.prompt_hash for s in bare[:-1]] == [prompt_hash(p) for p in (*PROMPTS, LONG)]
            results = ev.JobResults(samples=bare)
            results.summary.job_id = f"{checkpoint}-job"
            for message in split_results(results, kafka_config.max_message_bytes):
                headers = texts_header(message)  # as the runner sends them
                await producer.send(
                    kafka_config.topics.results, message, key=checkpoint, headers=headers
                )
        published = await prompt_records(kafka_config)
        assert sorted(p.text for p in published) == sorted(PROMPTS)  # once each; not LONG
        # A record whose text is not its key's: dead-lettered, the sink goes on.
        forged = ev.PromptText(prompt_hash=prompt_hash("other"), text="forged")
        await producer.send(kafka_config.topics.prompts, forged, key="forged")

        async def joined() -> list[dict[str, object]]:
            rows = await asyncio.to_thread(
                store.query,
                "SELECT checkpoint_id, sample_index, prompt FROM samples"
                " ORDER BY checkpoint_id, sample_index",
            )
            complete = len(rows) == 3 * (len(PROMPTS) + 2) and all(r["prompt"] for r in rows)
            return rows if complete else []

        rows = await poll_until_async(joined, timeout_s=60, interval_s=0.3)
        for row in rows:
            index = int(str(row["sample_index"]))
            if index < len(PROMPTS):
                assert row["prompt"] == PROMPTS[index]
            elif index == len(PROMPTS):  # cut by the results' own chunking, stored from its sample
                assert str(row["prompt"]).startswith(LONG[:10])
            else:  # stored from its sample, under its text's own hash
                assert row["prompt"] == "misnamed"
        [dead] = store.query("SELECT count() AS n FROM prompts WHERE prompt = 'forged'")
        assert dead["n"] == 0
        tail = TopicTail(kafka_config, {kafka_config.topics.dlq: ev.DeadLetter})
        await tail.start()
        try:
            letters = [d.message for d in await tail.read_to_end()]
        finally:
            await tail.stop()
        assert [letter.topic for letter in letters] == [kafka_config.topics.prompts]
        assert "does not hash" in letters[0].error
    finally:
        context.stopping.set()
        await asyncio.wait_for(sink, 30)
        await producer.stop()
