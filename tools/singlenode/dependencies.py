"""What an install of kiseki on this cluster needs besides the chart, as the chart's single-node
example expects it (charts/kiseki/examples/single-node.yaml): the checkpoint and dataset claims
on host folders, and the broker and ClickHouse server as pods of the release's namespace.

The broker is Apache Kafka in KRaft mode (the JVM and the jars `make setup` fetched, in an image
made here) or Tansu (the local stack's default; its static binary is the image). The ClickHouse
server is the chdb-core wheel's own in the kiseki image (kiseki.local.clickhouse), listening in
the pod's network namespace; its config comes in a ConfigMap, copied to a writable folder first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiseki.local.brokers import kraft_properties
from kiseki.local.clickhouse import server_argv, server_files

KAFKA_PORT = 9092
CLICKHOUSE_HTTP_PORT, CLICKHOUSE_TCP_PORT = 8123, 9000
# The user of the example values' store URL (http://kiseki@clickhouse:8123/kiseki).
CLICKHOUSE_USER = "kiseki"
RUN_DIR, DATA_DIR = "/run/clickhouse", "/var/lib/clickhouse"
_LOCKED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def claims(namespace: str, folders: dict[str, Path]) -> list[dict[str, Any]]:
    """A hostPath PersistentVolume bound to a claim of the same name, per folder."""
    objects: list[dict[str, Any]] = []
    for name, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        spec = {"accessModes": ["ReadWriteMany"], "storageClassName": ""}
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"{namespace}-{name}"},
                "spec": {
                    **spec,
                    "capacity": {"storage": "1Gi"},
                    "hostPath": {"path": str(folder), "type": "Directory"},
                    "claimRef": {"namespace": namespace, "name": name},
                },
            }
        )
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {
                    **spec,
                    "volumeName": f"{namespace}-{name}",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        )
    return objects


def _service(namespace: str, name: str, ports: dict[str, int]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": key, "port": port} for key, port in ports.items()],
        },
    }


def _deployment(namespace: str, name: str, pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod},
        },
    }


def apache_kafka(namespace: str, image: str) -> list[dict[str, Any]]:
    """One KRaft broker + controller; its storage formatted by an init container."""
    data, config = "/var/lib/kafka", "/config/server.properties"
    properties = kraft_properties(data, KAFKA_PORT, KAFKA_PORT + 1, "0.0.0.0", "kafka")
    java = ["java", "-Xmx512m", "-cp", "/opt/kafka/libs/*"]
    # The cluster id is the one thing `format` needs; any fixed base64 UUID will do.
    format_storage = [*java, "kafka.tools.StorageTool", "format", "--ignore-formatted",
                      "--cluster-id=a2lzZWtpLXNpbmdsZW5vZA", "-c", config]  # fmt: skip
    mounts = [
        {"name": "data", "mountPath": data},
        {"name": "config", "mountPath": "/config"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    common = {"image": image, "imagePullPolicy": "Never", "volumeMounts": mounts,
              "securityContext": _LOCKED}  # fmt: skip
    pod = {
        "initContainers": [{"name": "format", "command": format_storage, **common}],
        "containers": [
            {
                "name": "kafka",
                "command": [*java, "kafka.Kafka", config],
                "ports": [{"containerPort": KAFKA_PORT}],
                "readinessProbe": {"tcpSocket": {"port": KAFKA_PORT}, "periodSeconds": 2},
                **common,
            }
        ],
        "volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "config", "configMap": {"name": "kafka-config"}},
            {"name": "tmp", "emptyDir": {}},
        ],
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kafka-config", "namespace": namespace},
        "data": {"server.properties": properties},
    }
    return [
        config_map,
        _service(namespace, "kafka", {"kafka": KAFKA_PORT}),
        _deployment(namespace, "kafka", pod),
    ]


def tansu(namespace: str, image: str) -> list[dict[str, Any]]:
    address = f"tcp://kafka:{KAFKA_PORT}"
    container = {
        "name": "tansu",
        "image": image,
        "imagePullPolicy": "Never",
        "args": ["broker", f"--listener-url=tcp://0.0.0.0:{KAFKA_PORT}",
                 f"--advertised-listener-url={address}", "--storage-engine=memory://tansu/"],
        "ports": [{"containerPort": KAFKA_PORT}],
        "readinessProbe": {"tcpSocket": {"port": KAFKA_PORT}, "periodSeconds": 2},
        "securityContext": _LOCKED,
    }  # fmt: skip
    return [
        _service(namespace, "kafka", {"kafka": KAFKA_PORT}),
        _deployment(namespace, "kafka", {"containers": [container]}),
    ]


def clickhouse(namespace: str, image: str) -> list[dict[str, Any]]:
    files = server_files(
        CLICKHOUSE_HTTP_PORT, CLICKHOUSE_TCP_PORT, {CLICKHOUSE_USER: ""}, listen_host="0.0.0.0"
    )
    mounts = [{"name": "run", "mountPath": RUN_DIR}]
    pod = {
        "securityContext": {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001},
        "initContainers": [
            {
                "name": "config",
                "image": image,
                "imagePullPolicy": "Never",
                "command": ["cp", "/config/config.xml", "/config/users.xml", f"{RUN_DIR}/"],
                "volumeMounts": [*mounts, {"name": "config", "mountPath": "/config"}],
                "securityContext": _LOCKED,
            }
        ],
        "containers": [
            {
                "name": "clickhouse",
                "image": image,
                "imagePullPolicy": "Never",
                "command": server_argv("python", RUN_DIR, DATA_DIR),
                "ports": [{"containerPort": CLICKHOUSE_HTTP_PORT}],
                "readinessProbe": {
                    "httpGet": {"path": "/ping", "port": CLICKHOUSE_HTTP_PORT},
                    "periodSeconds": 2,
                },
                "volumeMounts": [
                    *mounts,
                    {"name": "data", "mountPath": DATA_DIR},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
                "securityContext": _LOCKED,
            }
        ],
        "volumes": [
            {"name": "config", "configMap": {"name": "clickhouse-config"}},
            {"name": "run", "emptyDir": {}},
            {"name": "data", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
        ],
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "clickhouse-config", "namespace": namespace},
        "data": files,
    }
    ports = {"http": CLICKHOUSE_HTTP_PORT, "native": CLICKHOUSE_TCP_PORT}
    return [
        config_map,
        _service(namespace, "clickhouse", ports),
        _deployment(namespace, "clickhouse", pod),
    ]
