"""Session-scoped real services for the integration tests: free ports, readiness waits,
logs under .artifacts/test-logs (kept when a test failed, removed otherwise), clean teardown.

Every server here is the real thing started as a local process. (Where a Docker engine
answers, testcontainers could start the same servers; none does here, so none is tried.)
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.store import Store, apply_schema, open_store
from kiseki.local.brokers import LocalBroker, start_apache_kafka, start_tansu
from kiseki.local.clickhouse import LocalClickHouse, start_clickhouse
from kiseki.local.triton import LocalTriton, start_triton
from support.clickhouse import CLICKHOUSE_USERS
from support.comet import tiny_comet_model
from support.corpus import TINY_CORPUS

REPO = Path(__file__).resolve().parent.parent
LOGS = REPO / ".artifacts" / "test-logs"


@pytest.fixture(scope="session")
def service_logs(request: pytest.FixtureRequest) -> Iterator[Path]:
    LOGS.mkdir(parents=True, exist_ok=True)
    yield LOGS
    if request.session.testsfailed == 0:
        shutil.rmtree(LOGS, ignore_errors=True)
    else:
        print(f"\nservice logs kept in {LOGS}")


@pytest.fixture(scope="session")
def tansu(service_logs: Path) -> Iterator[LocalBroker]:
    broker = start_tansu(service_logs)
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def apache_kafka(service_logs: Path) -> Iterator[LocalBroker]:
    broker = start_apache_kafka(service_logs)
    yield broker
    broker.stop()


@pytest.fixture(scope="session", params=["tansu", "apache_kafka"])
def broker(request: pytest.FixtureRequest) -> LocalBroker:
    """Each test using it runs once against each real broker."""
    found: LocalBroker = request.getfixturevalue(request.param)
    return found


@pytest.fixture
def kafka_config(broker: LocalBroker, request: pytest.FixtureRequest) -> KafkaConfig:
    """A topic prefix per test, so tests never see each other's records."""
    prefix = f"t{abs(hash(request.node.nodeid)) % 10**10}"
    return KafkaConfig(
        bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix, session_timeout_ms=2000
    )


@pytest.fixture
async def producer(kafka_config: KafkaConfig) -> AsyncIterator[ProtoProducer]:
    """A started producer on the test's broker."""
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture(scope="session")
def tritonserver(
    service_logs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalTriton]:
    repository = tmp_path_factory.mktemp("model-repository")
    shutil.copytree(REPO / "tests" / "integration" / "models", repository, dirs_exist_ok=True)
    server = start_triton(service_logs, repository)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_comet() -> Path:
    """A tiny COMET model of wmt22-comet-da's class, built in .venv-comet and cached per lock."""
    return tiny_comet_model()


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Two real HuggingFace checkpoints of the project's tiny GPT: untrained and trained."""
    from tinygpt.train import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny-gpt")
    paths = train(TINY_CORPUS, TrainConfig(out_dir=out, checkpoint_steps=(0, 60)))
    return {int(p.name.split("-")[1]): p for p in paths}


@pytest.fixture(scope="session")
def clickhouse(
    service_logs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalClickHouse]:
    """One real ClickHouse server for the session; each test takes a database of its own."""
    server = start_clickhouse(tmp_path_factory.mktemp("clickhouse"), service_logs, CLICKHOUSE_USERS)
    yield server
    server.stop()


@pytest.fixture(params=["chdb", "server"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store: a chDB directory, or a database of a unique name on the server
    (dropped afterwards). Each test using it runs on both."""
    if request.param == "chdb":
        yield f"chdb:{tmp_path / 'store'}"
        return
    server: LocalClickHouse = request.getfixturevalue("clickhouse")
    database = f"t_{uuid.uuid4().hex[:16]}"
    yield server.url(database)  # open_store creates it
    admin = open_store(server.url())
    try:
        admin.command(f"DROP DATABASE IF EXISTS {database}")
    finally:
        admin.close()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The store at `store_url` with the schema applied, closed afterwards."""
    opened = open_store(store_url)
    try:  # chDB holds one path per process: always close, or the next test cannot open its own
        apply_schema(opened)
        yield opened
    finally:
        opened.close()


@pytest.fixture
def chdb_store(tmp_path: Path) -> Iterator[Store]:
    """For the tests about chDB alone (its single owner, the Query service in front of it)."""
    store = open_store(f"chdb:{tmp_path / 'store'}")
    try:  # chDB holds one path per process: always close, or the next test cannot open its own
        apply_schema(store)
        yield store
    finally:
        store.close()
