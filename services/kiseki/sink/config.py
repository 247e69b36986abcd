"""The sink's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from kiseki.core.config import ConfigError, setting
from kiseki.report.regressions import ALPHA


@dataclass(frozen=True)
class SinkConfig:
    group_id: str = setting(
        "KISEKI_SINK_GROUP", "kiseki-sink", doc="consumer group; every sink replica shares it"
    )
    max_batch_records: int = setting(
        "KISEKI_SINK_MAX_BATCH_RECORDS",
        200,
        unit="records",
        doc="one insert per fetch of at most this many records; a JobResults record holds a"
        " whole job's samples, so 200 keeps an insert to tens of thousands of rows",
    )
    max_insert_rows: int = setting(
        "KISEKI_SINK_MAX_INSERT_ROWS",
        50_000,
        unit="rows",
        doc="a fetch's records go to the store in inserts of at most this many sample rows"
        " (whole records; a bigger one alone), the next one read while one is inserted:"
        " large enough for ClickHouse (an insert makes a part), small enough that a 100-job"
        " fetch overlaps (sink bench to the server, paired rounds, when the sink built"
        " columns: 50k 1.13x the rows/s of 100k, 25k 1.11x)",
    )
    partition_fetch_bytes: int = setting(
        "KISEKI_SINK_PARTITION_FETCH_BYTES",
        16 * 1024 * 1024,
        unit="bytes",
        doc="how much one fetch may bring of each partition. An insert is at most a fetch,"
        " and at one record a partition (the clients' default, the 1 MiB message limit) a"
        " fetch held ~5 records of Apache Kafka's backlog: 69k rows/s to the server against"
        " 198k at 16 MiB (57 records a fetch; the sink bench, paired). aiokafka caps a whole"
        " fetch at 50 MiB",
    )
    known_prompts: int = setting(
        "KISEKI_SINK_KNOWN_PROMPTS",
        200_000,
        unit="prompts",
        doc="digests of the prompts already written that the sink remembers (~100 B each),"
        " so a prompt asked again at the next checkpoint is not sent again; the v1.4.1"
        " suites hold fewer distinct prompts than this, and one forgotten is only resent",
    )
    poll_timeout_ms: int = setting(
        "KISEKI_SINK_POLL_TIMEOUT_MS",
        500,
        unit="milliseconds",
        doc="how long a fetch waits for records; bounds the latency of a partial batch",
    )
    max_backoff_s: float = setting(
        "KISEKI_SINK_MAX_BACKOFF_S",
        30.0,
        unit="seconds",
        doc="longest wait between retries while the store is down (Kafka keeps the results)",
    )
    query_port: int = setting(
        "KISEKI_QUERY_PORT",
        0,
        unit="TCP port",
        doc="serve read-only SQL (kiseki.v1.Query) over the store on this port; 0 = off. For a"
        " chDB store, which only its owner (this sink) can open; `kiseki up` turns it on",
    )
    query_host: str = setting(
        "KISEKI_QUERY_HOST", "127.0.0.1", doc="bind address of the Query service"
    )
    regression_alpha: float = setting(
        "KISEKI_REGRESSION_ALPHA",
        ALPHA,
        unit="p-value",
        doc="a newly scored checkpoint's drop against the previous or best one is announced"
        " when its paired p-value is below this; `kiseki regressions --alpha`'s default",
    )

    def __post_init__(self) -> None:
        if self.partition_fetch_bytes < 1:
            raise ConfigError(
                f"KISEKI_SINK_PARTITION_FETCH_BYTES={self.partition_fetch_bytes} must be >= 1"
            )
        if self.known_prompts < 0:
            raise ConfigError(f"KISEKI_SINK_KNOWN_PROMPTS={self.known_prompts} must be >= 0")
        if not 0.0 < self.regression_alpha < 1.0:
            raise ConfigError(
                f"KISEKI_REGRESSION_ALPHA={self.regression_alpha} must be between 0 and 1"
            )
