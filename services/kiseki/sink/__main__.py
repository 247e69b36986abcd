"""`python -m kiseki.sink`: consume results, status and checkpoints; write them to the store."""

from __future__ import annotations

from kiseki.core.config import load_config
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceConfig, ServiceContext, run_service
from kiseki.core.startup import open_store_when_reachable
from kiseki.core.store import StoreConfig
from kiseki.core.store.query_api import query_server
from kiseki.sink.config import SinkConfig
from kiseki.sink.loop import run_sink


def main() -> None:
    kafka, sink = load_config(KafkaConfig), load_config(SinkConfig)
    store_config = load_config(StoreConfig)

    async def serve(context: ServiceContext) -> None:
        store = await open_store_when_reachable(context, store_config)
        query = query_server(store, sink.query_host, sink.query_port) if sink.query_port else None
        try:
            if query is not None:
                await query.start()
            await run_sink(context, kafka, sink, store)
        finally:
            if query is not None:
                await query.stop(grace_s=1.0)
            store.close()

    run_service("sink", load_config(ServiceConfig), serve)


if __name__ == "__main__":
    main()
