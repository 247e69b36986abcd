"""Prometheus metrics shared by the core's clients; services define their own beside them."""

from prometheus_client import Counter, Histogram

MESSAGES_PRODUCED = Counter(
    "kiseki_messages_produced_total", "Records acknowledged by the broker", ["topic"]
)
MESSAGES_CONSUMED = Counter("kiseki_messages_consumed_total", "Records received", ["topic"])
DEAD_LETTERS = Counter(
    "kiseki_dead_letters_total", "Records sent to the dead-letter topic", ["topic"]
)
STORE_INSERTED_ROWS = Counter(
    "kiseki_store_inserted_rows_total", "Rows sent to the store", ["table"]
)
STORE_QUERY_SECONDS = Histogram("kiseki_store_query_seconds", "Store query latency", ["kind"])
DEPENDENCY_RETRIES = Counter(
    "kiseki_dependency_retries_total",
    "Failed attempts to reach a dependency (broker, store) while starting",
    ["dependency"],
)
