"""The chart's services as its Deployments run them (image, command, env, mounts, user,
read-only root), from the images `make images` builds, against a real broker and a real
ClickHouse server: each becomes ready. The nearest form of the pods this machine runs
without a kubelet; only the broker and store addresses and the health port are replaced."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker  # type: ignore[import-untyped]
import pytest

from kiseki.core.store.connect import open_store
from kiseki.local.brokers import LocalBroker
from kiseki.local.clickhouse import LocalClickHouse
from kiseki.local.process import free_port
from support.chart import SINGLE_NODE_VALUES, render
from support.containers import chart_container, container_engine, wait_for_status

pytestmark = pytest.mark.skipif(container_engine() is not None, reason=str(container_engine()))


def rendered(built_images: dict[str, str]) -> list[dict[str, object]]:
    tag = built_images["kiseki"].rsplit(":", 1)[1]
    return render(
        "-f", str(SINGLE_NODE_VALUES), "--set", f"image.tag={tag}",
        "--set", f"serving.image={built_images['triton']}",
    )  # fmt: skip


@pytest.mark.parametrize("service", ["watcher", "runner", "sink"])
def test_a_chart_service_from_the_image_becomes_ready(
    service: str,
    built_images: dict[str, str],
    docker_api: docker.DockerClient,
    tansu: LocalBroker,
    clickhouse: LocalClickHouse,
    tmp_path: Path,
) -> None:
    database, port = f"t_{uuid.uuid4().hex[:16]}", free_port()
    (tmp_path / "checkpoints" / "tiny").mkdir(parents=True)
    container = chart_container(
        rendered(built_images),
        f"kiseki-{service}",
        tmp_path,
        {
            "KISEKI_KAFKA_BOOTSTRAP": tansu.bootstrap_servers,
            "KISEKI_TOPIC_PREFIX": f"img{uuid.uuid4().hex[:8]}",
            "KISEKI_STORE_URL": clickhouse.url(database),
            "KISEKI_HEALTH_PORT": str(port),
        },
    )
    with container:
        wait_for_status(f"http://127.0.0.1:{port}/readyz", 200, timeout_s=120.0)
    if service == "sink":  # it made the schema in the server's new database
        store = open_store(clickhouse.url())
        try:
            tables = store.query(f"SELECT name FROM system.tables WHERE database = '{database}'")
            store.command(f"DROP DATABASE IF EXISTS {database}")
        finally:
            store.close()
        assert {"runs", "checkpoints", "schema_versions"} <= {row["name"] for row in tables}
