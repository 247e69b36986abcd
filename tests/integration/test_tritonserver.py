"""The real tritonserver starts, answers gRPC health, and runs a Python-backend model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient

from kiseki.local.triton import MODEL_PROCESS_MALLOC, LocalTriton


def test_tritonserver_answers_grpc_health(tritonserver: LocalTriton) -> None:
    with tritonserver.client() as client:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.get_server_metadata().version == "2.51.0"


def test_python_backend_model_loads_and_infers(tritonserver: LocalTriton) -> None:
    with tritonserver.client() as client:
        client.load_model("echo")
        assert client.is_model_ready("echo")
        text = grpcclient.InferInput("TEXT", [2], "BYTES")
        text.set_data_from_numpy(np.array([b"kiseki", "軌跡ｓ".encode()], dtype=np.object_))
        result = client.infer("echo", [text]).as_numpy("TEXT_UPPER")
        assert [v.decode() for v in result] == ["KISEKI", "軌跡Ｓ"]
        client.unload_model("echo")


def test_the_model_process_keeps_large_blocks_on_the_heap(tritonserver: LocalTriton) -> None:
    """The Python backend's stub, where torch computes, inherits fixed glibc thresholds."""
    with tritonserver.client() as client:
        client.load_model("echo")
        try:
            stubs = _children(tritonserver.process.pid)  # an unloaded model's may linger
            assert stubs
            for stub in stubs:
                environ = (Path("/proc") / str(stub) / "environ").read_bytes().split(b"\0")
                settings = dict(e.decode().split("=", 1) for e in environ if b"=" in e)
                for name, value in MODEL_PROCESS_MALLOC.items():
                    assert settings[name] == value
        finally:
            client.unload_model("echo")


def _children(pid: int) -> list[int]:
    tasks = Path("/proc") / str(pid) / "task"
    return [
        int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()
    ]
