"""`python -m kiseki.watcher`: publish the complete checkpoints of the configured runs.

Configured by environment variables (kiseki.watcher.config, kiseki.core.kafka_config) and the
runs file they name (kiseki.watcher.runs); both are checked before anything starts.
"""

from __future__ import annotations

from kiseki.core.config import load_config
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceConfig, ServiceContext, run_service
from kiseki.watcher.config import WatcherConfig
from kiseki.watcher.loop import run_watcher
from kiseki.watcher.runs import load_runs


def main() -> None:
    service, kafka, config = (
        load_config(ServiceConfig),
        load_config(KafkaConfig),
        load_config(WatcherConfig),
    )
    runs = load_runs(config.runs_file)

    async def serve(context: ServiceContext) -> None:
        await run_watcher(context, kafka, config, runs)

    run_service("watcher", service, serve)


if __name__ == "__main__":
    main()
