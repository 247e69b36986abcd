"""Per-run serving resources: what one checkpoint's endpoint is given and where it runs.

The policy's top-level `serving` holds the defaults, a run's own `serving` the keys that differ:

    {"serving": {"backend": "hf", "gpus": 1, "dtype": "bfloat16"},
     "runs": {"llm-jp-3-172b": {"suites": ["jnli"],
                                "serving": {"backend": "trtllm", "gpus": 8,
                                            "tensor_parallel_size": 8, "memory": "1200Gi",
                                            "node_pool": "h100"}}}}

A key left out of both takes the deployer's own setting (KISEKI_SERVING_BACKEND,
KISEKI_K8S_GPUS, KISEKI_K8S_SERVING_MEMORY, ...), so a policy without `serving` serves as before.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiseki.orchestrator.policy_errors import PolicyError
from kiseki.serving.repository import THREADS_BIND

BACKENDS = ("hf", "vllm", "trtllm")
DTYPES = ("float32", "float16", "bfloat16")
EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?([KMGTPE]i|[kMGTPE])?$")
_KEYS = (
    "backend",
    "gpus",
    "tensor_parallel_size",
    "dtype",
    "memory",
    "node_selector",
    "tolerations",
    "node_pool",
    "vllm_threads",
)


@dataclass(frozen=True)
class Toleration:
    key: str
    operator: str = "Exists"  # or "Equal", with a value
    value: str = ""
    effect: str = ""  # empty: every effect


@dataclass(frozen=True)
class ServingResources:
    """None: the deployer's own setting for that key."""

    backend: str | None = None
    gpus: int | None = None  # GPUs per endpoint
    tensor_parallel_size: int | None = None  # TensorRT-LLM's tp_size; vLLM's, where it serves
    dtype: str | None = None
    memory: str | None = None  # a Kubernetes quantity: host memory of the serving pod
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    node_pool: str = ""  # the budget's pool the endpoint's GPUs come from
    # vLLM's compute cores ("0-3", VLLM_CPU_OMP_THREADS_BIND) on the CPU build; None: the
    # deployer's KISEKI_SERVING_VLLM_THREADS.
    vllm_threads: str | None = None

    @property
    def budget_gpus(self) -> int:
        """GPUs one endpoint takes from the budget; unset counts one (the deployer's default)."""
        return 1 if self.gpus is None else self.gpus


def _string_map(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise PolicyError(f"{where}: expected an object of label: value strings")
    return dict(value)


def _toleration(raw: object, where: str) -> Toleration:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("key", ""), str):
        raise PolicyError(f"{where}: expected an object with key, operator, value, effect")
    unknown = set(raw) - {"key", "operator", "value", "effect"}
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}")
    toleration = Toleration(**{k: str(v) for k, v in raw.items()})
    if toleration.operator not in ("Exists", "Equal"):
        raise PolicyError(f"{where}.operator: must be Exists or Equal, got {toleration.operator!r}")
    if toleration.effect not in EFFECTS:
        raise PolicyError(f"{where}.effect: must be one of {list(EFFECTS[1:])} or empty")
    if toleration.operator == "Exists" and toleration.value:
        raise PolicyError(f"{where}.value: an Exists toleration takes no value")
    return toleration


def _count(raw: Mapping[str, Any], key: str, where: str, least: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise PolicyError(f"{where}.{key}: expected an integer ≥ {least}, got {value!r}")
    return value


def _choice(raw: Mapping[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> str | None:
    value = raw.get(key)
    if value is not None and value not in allowed:
        raise PolicyError(f"{where}.{key}: must be one of {list(allowed)}, got {value!r}")
    return value


def parse_serving(
    raw: object, where: str, base: ServingResources | None = None
) -> ServingResources:
    """`raw`'s keys over `base` (the policy's defaults)."""
    base = base or ServingResources()
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: expected an object of serving settings")
    unknown = set(raw) - set(_KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(_KEYS)}")
    memory = raw.get("memory")
    if memory is not None and not _QUANTITY.match(str(memory)):
        raise PolicyError(f"{where}.memory: expected a Kubernetes quantity (64Gi), got {memory!r}")
    tolerations = raw.get("tolerations")
    if tolerations is not None and not isinstance(tolerations, list):
        raise PolicyError(f"{where}.tolerations: expected a list")
    threads = raw.get("vllm_threads")
    if threads is not None and not (isinstance(threads, str) and THREADS_BIND.match(threads)):
        raise PolicyError(
            f"{where}.vllm_threads: expected cores like '0-3' or '0,2-3', got {threads!r}"
        )
    node_pool = raw.get("node_pool", base.node_pool)
    if not isinstance(node_pool, str):
        raise PolicyError(f"{where}.node_pool: expected the name of a budget pool")
    given: dict[str, Any] = {
        "backend": _choice(raw, "backend", where, BACKENDS),
        "gpus": _count(raw, "gpus", where, 0),
        "tensor_parallel_size": _count(raw, "tensor_parallel_size", where, 1),
        "dtype": _choice(raw, "dtype", where, DTYPES),
        "memory": None if memory is None else str(memory),
        "node_selector": None
        if "node_selector" not in raw
        else _string_map(raw["node_selector"], f"{where}.node_selector"),
        "tolerations": None
        if tolerations is None
        else tuple(_toleration(t, f"{where}.tolerations[{i}]") for i, t in enumerate(tolerations)),
        "node_pool": node_pool,
        "vllm_threads": threads,
    }
    merged = dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})
    return _checked(merged, where)


def _checked(resources: ServingResources, where: str) -> ServingResources:
    parallel, gpus = resources.tensor_parallel_size, resources.gpus
    if parallel is not None and gpus is not None and parallel > max(gpus, 1):
        raise PolicyError(
            f"{where}.tensor_parallel_size: {parallel} needs at least as many gpus, got {gpus}"
        )
    return resources
