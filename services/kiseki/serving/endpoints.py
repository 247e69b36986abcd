"""The local endpoint manager: one long-lived tritonserver serving many checkpoints over time.

Each checkpoint is loaded as its own model (explicit model-control mode) and reported ready
only when Triton says so; unloading waits until Triton has really let go (its unload call
returns early). Loads and unloads of one model name are serialised, so a checkpoint is never
loaded twice at once. A loaded model can also take the next checkpoint of its architecture
in place (`swap`, see serving/swap.py), proven by its fingerprint. If the server dies, a
watchdog restarts it on the same port at once and reloads what was loaded (runners are
waiting on those models), as the next call would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import tritonclient.grpc.aio as triton_aio
from tritonclient.utils import InferenceServerException

from kiseki.local.process import port_open
from kiseki.local.triton import LocalTriton, start_triton
from kiseki.serving.client import ScoringClient
from kiseki.serving.repository import ServingOptions, write_model
from kiseki.serving.swap import SWAP_TOLERANCE, fingerprint_problem

log = logging.getLogger(__name__)


class EndpointLoadError(RuntimeError):
    """Triton refused to load a checkpoint; the message carries Triton's reason."""


class ServerUnavailable(RuntimeError):
    """tritonserver is stopping or gone: the same call succeeds once it is back."""


async def _server_live(client: triton_aio.InferenceServerClient) -> bool:
    """Live, not ready: a model that failed to load makes a strict server not ready, while a
    stopping server is not live."""
    try:
        return bool(await client.is_server_live())
    except InferenceServerException:
        return False


@dataclass(frozen=True)
class Endpoint:
    address: str
    model_name: str
    backend: str = "hf"  # what serves it: kiseki's HF model, its vLLM model, or "trtllm"
    dtype: str = "float32"
    # The checkpoint path the model serves now (a local model can swap to another one);
    # empty where the model name alone says (one service per checkpoint).
    serves: str = ""


async def _wait_for(condition: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(0.1)


async def swap_weights(
    address: str,
    model_name: str,
    checkpoint: Path,
    timeout_s: float,
    reference: list[float] | None = None,
) -> str:
    """Have the model at `address` load `checkpoint`'s weights in place (SWAP_CHECKPOINT);
    why it cannot be trusted then (its error, or its fingerprint's problem), or "" when the
    fingerprint proves the new weights. Local and Kubernetes endpoints swap the same way."""
    client = ScoringClient(address, model_name, timeout_s=timeout_s)
    try:
        before = await client.swap("")
        after = await client.swap(str(checkpoint))
        return fingerprint_problem(before, after, reference, SWAP_TOLERANCE)
    except InferenceServerException as error:
        return str(error.message())
    finally:
        await client.close()


class LocalEndpointManager:
    def __init__(
        self, workdir: Path, options: ServingOptions | None = None, ready_timeout_s: float = 300.0
    ) -> None:
        self.workdir, self.repository = workdir, workdir / "model-repository"
        self.options = options or ServingOptions()
        self.ready_timeout_s = ready_timeout_s
        self._server: LocalTriton | None = None
        self._loaded: dict[str, Path] = {}
        self._options: dict[str, ServingOptions] = {}  # what each loaded model was loaded with
        self._locks: dict[str, asyncio.Lock] = {}
        self._server_lock = asyncio.Lock()
        self._state_file = workdir / "tritonserver.json"
        self._watchdog: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[LocalTriton] | None = None
        self.watch_interval_s = 1.0
        # Seconds between health probes of each loaded model: Triton 2.51 keeps a model READY
        # after its Python model process dies (OOM-killed, say), failing every request.
        self.probe_interval_s = 10.0

    @property
    def loaded(self) -> dict[str, Path]:
        return dict(self._loaded)

    def options_of(self, name: str) -> ServingOptions | None:
        """What the loaded model `name` was loaded with (None: not loaded)."""
        return self._options.get(name)

    async def start(self) -> None:
        await self._ensure_server()
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        probed = time.monotonic()
        while True:
            await asyncio.sleep(self.watch_interval_s)
            if self._server is not None and self._server.process.alive():
                if time.monotonic() - probed >= self.probe_interval_s:
                    probed = time.monotonic()
                    try:
                        await self._probe_models(self._server)
                    except Exception:  # a probe must never end the watchdog
                        log.exception("probing the loaded models failed")
                continue
            try:
                await self._ensure_server()
            except Exception:  # the next round, or the next call, tries again
                log.exception("restarting tritonserver failed")

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if self._starting is not None:
            # A start whose caller was cancelled (the watchdog, just now) runs on in its
            # thread: its server would outlive this manager.
            with contextlib.suppress(Exception):
                started = await self._starting
                if started is not self._server:
                    await asyncio.to_thread(started.stop)
            self._starting = None
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)
            self._server = None
            self._state_file.unlink(missing_ok=True)

    def _client(self, server: LocalTriton) -> triton_aio.InferenceServerClient:
        return triton_aio.InferenceServerClient(server.grpc_address)

    def _adopt_previous_port(self) -> int:
        """A server left by a previous manager (killed with its process) is stopped so no
        endpoint leaks, and its port is reused so addresses in queued jobs stay valid."""
        try:
            previous = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return 0
        pid = int(previous["pid"])
        with contextlib.suppress(OSError):  # gone already, or the pid now belongs to another
            if b"tritonserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.killpg(pid, signal.SIGKILL)
                log.warning("stopped a tritonserver left by a previous run", extra=previous)
        shutil.rmtree(self.repository, ignore_errors=True)
        port = int(previous.get("grpc_port", 0))
        return port if port and not port_open(port) else 0

    async def _ensure_server(self) -> LocalTriton:
        async with self._server_lock:
            if self._server is not None and self._server.process.alive():
                return self._server
            if self._server is None:
                port = self._adopt_previous_port()
            else:
                log.warning(
                    "tritonserver died; restarting",
                    extra={"log": str(self._server.process.log_path)},
                )
                port = self._server.grpc_port
                await asyncio.to_thread(self._server.stop)  # its model processes outlive it
            self._starting = asyncio.create_task(
                asyncio.to_thread(start_triton, self.workdir, self.repository, grpc_port=port)
            )
            self._server = await asyncio.shield(self._starting)
            state = {"pid": self._server.process.pid, "grpc_port": self._server.grpc_port}
            self._state_file.write_text(json.dumps(state))
            for name in list(self._loaded):
                await self._load_into(self._server, name)
            return self._server

    async def _probe_models(self, server: LocalTriton) -> None:
        """Reload each idle loaded model whose model process is gone. Only Triton's answer
        that the process is unhealthy counts: a slow answer from a busy model is no reason to
        reload it under its jobs."""
        for name in list(self._loaded):
            lock = self._locks.setdefault(name, asyncio.Lock())
            if lock.locked():
                continue  # a load, swap or unload is under way
            async with lock:
                client = ScoringClient(server.grpc_address, name, timeout_s=30.0)
                try:
                    await client.swap("")
                    continue
                except InferenceServerException as error:
                    if "not healthy" not in error.message():
                        continue
                    log.warning("model process died; reloading", extra={"model": name})
                finally:
                    await client.close()
                try:
                    await self._load_into(server, name)
                except Exception:  # the next probe tries again
                    log.exception("reloading %s failed", name)

    async def _load_into(self, server: LocalTriton, name: str) -> None:
        async with self._client(server) as client:
            try:
                await client.load_model(name)
            except InferenceServerException as error:
                if not await _server_live(client):  # not the checkpoint's fault
                    raise ServerUnavailable(f"loading {name}: {error.message()}") from None
                raise EndpointLoadError(f"cannot load {name}: {error.message()}") from None

            async def ready() -> bool:
                try:
                    return bool(await client.is_model_ready(name))
                except InferenceServerException as error:
                    raise ServerUnavailable(f"waiting for {name}: {error.message()}") from None

            await _wait_for(ready, self.ready_timeout_s, f"model {name} ready")

    async def _while_server_down(
        self, what: str, attempt: Callable[[LocalTriton], Awaitable[None]]
    ) -> LocalTriton:
        """Run `attempt` against the server, again after it is back if it was stopping or
        died meanwhile (the watchdog restarts it); TimeoutError after `ready_timeout_s`."""
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            server = await self._ensure_server()
            try:
                await attempt(server)
                return server
            except ServerUnavailable as error:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{what}: tritonserver unavailable: {error}") from None
                log.warning("tritonserver unavailable; retrying", extra={"error": str(error)})
                await asyncio.sleep(1.0)

    @staticmethod
    def _endpoint(
        server: LocalTriton, name: str, options: ServingOptions, checkpoint: Path
    ) -> Endpoint:
        return Endpoint(server.grpc_address, name, options.backend, options.dtype, str(checkpoint))

    async def load(
        self, name: str, checkpoint: Path, options: ServingOptions | None = None
    ) -> Endpoint:
        """Serve `checkpoint` as model `name` (with `options` in place of the manager's, e.g.
        a run's own backend and dtype); return when Triton reports it ready."""
        options = options or self.options
        async with self._locks.setdefault(name, asyncio.Lock()):
            if self._loaded.get(name) == checkpoint:
                server = await self._ensure_server()
                return self._endpoint(server, name, options, checkpoint)

            async def attempt(server: LocalTriton) -> None:
                write_model(self.repository, name, checkpoint, options)
                await self._load_into(server, name)

            try:
                server = await self._while_server_down(f"loading {name}", attempt)
            except (EndpointLoadError, TimeoutError):
                shutil.rmtree(self.repository / name, ignore_errors=True)
                raise
            self._loaded[name], self._options[name] = checkpoint, options
            return self._endpoint(server, name, options, checkpoint)

    async def swap(
        self, name: str, checkpoint: Path, reference: list[float] | None = None
    ) -> Endpoint:
        """Serve `checkpoint` as the loaded model `name` by swapping its weights in place (no
        cold load). Whatever goes wrong, `name` never serves other weights than the
        checkpoint's: a refused or unproven swap unloads it (EndpointLoadError says why)."""
        async with self._locks.setdefault(name, asyncio.Lock()):
            if name not in self._loaded:
                raise EndpointLoadError(f"cannot swap {name}: it is not loaded")
            server, options = await self._ensure_server(), self._options[name]
            if self._loaded[name] == checkpoint:
                return self._endpoint(server, name, options, checkpoint)
            address, timeout_s = server.grpc_address, self.ready_timeout_s
            problem = await swap_weights(address, name, checkpoint, timeout_s, reference)
            if problem:
                await self._while_server_down(f"unloading {name}", partial(self._unload, name))
                raise EndpointLoadError(f"swapping {name} to {checkpoint}: {problem}")
            # A restarted server loads the repository: it must name the weights now served.
            write_model(self.repository, name, checkpoint, options)
            self._loaded[name] = checkpoint
            return self._endpoint(server, name, options, checkpoint)

    async def _unload(self, name: str, server: LocalTriton) -> None:
        async with self._client(server) as client:
            try:
                await client.unload_model(name)
            except InferenceServerException as error:
                if not await _server_live(client):
                    raise ServerUnavailable(f"unloading {name}: {error.message()}") from None
                raise

            async def gone() -> bool:
                try:
                    return not await client.is_model_ready(name)
                except InferenceServerException as error:
                    raise ServerUnavailable(f"unloading {name}: {error.message()}") from None

            await _wait_for(gone, self.ready_timeout_s, f"model {name} unloaded")
        self._loaded.pop(name, None)
        self._options.pop(name, None)
        shutil.rmtree(self.repository / name, ignore_errors=True)

    async def unload(self, name: str) -> None:
        """Unload `name` and wait until Triton no longer serves it."""
        async with self._locks.setdefault(name, asyncio.Lock()):
            await self._while_server_down(f"unloading {name}", partial(self._unload, name))
