"""Kafka connection settings shared by every producer, consumer and admin client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka.helpers import create_ssl_context

from kiseki.core.config import setting
from kiseki.core.topics import Topics


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str = setting(
        "KISEKI_KAFKA_BOOTSTRAP", doc="host:port[,host:port...] of the Kafka brokers"
    )
    topic_prefix: str = setting(
        "KISEKI_TOPIC_PREFIX", "kiseki", doc="prefix of every topic, so studies can share a cluster"
    )
    security_protocol: str = setting(
        "KISEKI_KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        doc="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; PLAINTEXT suits the local broker",
    )
    sasl_mechanism: str = setting(
        "KISEKI_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", doc="used only with SASL_* protocols"
    )
    sasl_username: str = setting("KISEKI_KAFKA_SASL_USERNAME", "", doc="from a Secret")
    sasl_password: str = setting(
        "KISEKI_KAFKA_SASL_PASSWORD", "", doc="from a Secret; never logged"
    )
    ssl_cafile: str = setting("KISEKI_KAFKA_SSL_CAFILE", "", doc="CA bundle for SSL protocols")
    request_timeout_ms: int = setting(
        "KISEKI_KAFKA_REQUEST_TIMEOUT_MS",
        30000,
        unit="milliseconds",
        doc="aiokafka's default; long enough for a broker fail-over",
    )
    session_timeout_ms: int = setting(
        "KISEKI_KAFKA_SESSION_TIMEOUT_MS",
        10000,
        unit="milliseconds",
        doc="consumer-group session: a dead member is noticed after this; Kafka's default",
    )
    max_message_bytes: int = setting(
        "KISEKI_KAFKA_MAX_MESSAGE_BYTES",
        1048576,
        unit="bytes",
        doc="matches the broker default message.max.bytes (1 MiB)",
    )

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    def client_kwargs(self) -> dict[str, Any]:
        """Connection keyword arguments common to aiokafka's clients."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.security_protocol.startswith("SASL"):
            kwargs |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        if self.security_protocol.endswith("SSL"):
            kwargs["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile or None)
        return kwargs

    def __repr__(self) -> str:
        return (
            f"KafkaConfig(bootstrap_servers={self.bootstrap_servers!r}, "
            f"topic_prefix={self.topic_prefix!r}, security_protocol={self.security_protocol!r})"
        )
