"""Local Kafka-protocol brokers: Tansu (light default) and Apache Kafka (KRaft, on the JVM)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from kiseki.local.paths import require, tool_paths
from kiseki.local.process import ManagedProcess, ServerFailedToStart, free_port, port_open


@dataclass
class LocalBroker:
    kind: str
    bootstrap_servers: str
    process: ManagedProcess

    def stop(self) -> int:
        return self.process.stop()


def _answers_metadata(bootstrap: str) -> bool:
    """A broker is ready when a client can fetch cluster metadata, not just connect."""

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    host, port = bootstrap.rsplit(":", 1)
    return port_open(int(port), host) and asyncio.run(probe())


def start_tansu(workdir: Path, port: int = 0, timeout_s: float = 30.0) -> LocalBroker:
    """Tansu with in-memory storage: starts in milliseconds; data lives as long as the process."""
    port = port or free_port()
    address = f"tcp://127.0.0.1:{port}"
    argv = [
        str(require(tool_paths().tansu, "tansu")),
        "broker",
        "--listener-url", address,
        "--advertised-listener-url", address,
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    process = ManagedProcess("tansu", argv, workdir / f"tansu-{port}.log", cwd=workdir)
    bootstrap = f"127.0.0.1:{port}"
    process.wait_ready(lambda: _answers_metadata(bootstrap), timeout_s)
    return LocalBroker("tansu", bootstrap, process)


def kraft_properties(
    data_dir: Path | str,
    port: int,
    controller_port: int,
    host: str = "127.0.0.1",
    advertised: str = "",
) -> str:
    """A single-node KRaft broker + controller. `host` is where the broker listens, `advertised`
    the name clients are told (default `host`); the controller stays on 127.0.0.1."""
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://{advertised or host}:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data_dir}",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            # A single-member group should not wait 3 s for others to join.
            "group.initial.rebalance.delay.ms=0",
            # Lets tests run consumer groups with short sessions (fast joins and fail-over).
            "group.min.session.timeout.ms=1000",
            "auto.create.topics.enable=true",
            "",
        ]
    )


def start_apache_kafka(
    workdir: Path, port: int = 0, heap_mb: int = 512, timeout_s: float = 90.0
) -> LocalBroker:
    """Apache Kafka in KRaft mode (broker + controller in one JVM), storage under `workdir`."""
    libs = require(tool_paths().kafka_libs, "Apache Kafka jars")
    port, controller_port = port or free_port(), free_port()
    data_dir = workdir / f"kafka-{port}-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"kafka-{port}.properties"
    config.write_text(kraft_properties(data_dir, port, controller_port))
    classpath = f"{libs}/*"
    java = ["java", f"-Xmx{heap_mb}m", "-cp", classpath]
    if not (data_dir / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        # `=` keeps an id that starts with "-" (1 in 64) from reading as an option.
        formatted = subprocess.run(
            [
                *java,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",
                "-c",
                str(config),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if formatted.returncode != 0:
            raise ServerFailedToStart(f"kafka storage format failed:\n{formatted.stderr[-2000:]}")
    log_path = workdir / f"kafka-{port}.log"
    process = ManagedProcess("apache-kafka", [*java, "kafka.Kafka", str(config)], log_path)
    bootstrap = f"127.0.0.1:{port}"
    process.wait_ready(lambda: _answers_metadata(bootstrap), timeout_s)
    return LocalBroker("apache-kafka", bootstrap, process)
