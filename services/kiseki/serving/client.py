"""The task-runners' side of an endpoint: packed requests over Triton's gRPC (KServe v2).

Many items travel in one request (up to `items_per_request`), because packing raises
throughput far more than client concurrency does; a few requests stay in flight at once
(`max_in_flight`) so the transport of one overlaps the compute of another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import numpy as np
import tritonclient.grpc.aio as triton_aio
from tritonclient.grpc import InferInput, InferRequestedOutput, InferResult

from kiseki.serving.results import Continuation

Item = TypeVar("Item")
Output = TypeVar("Output")
# Told of each packed request as it returns: its first item's position and its outputs.
PartDone = Callable[[int, list[Output]], Awaitable[None]]


def _bytes_input(name: str, values: Sequence[str]) -> InferInput:
    array = np.array([v.encode("utf-8") for v in values], dtype=np.object_).reshape(-1, 1)
    tensor = InferInput(name, list(array.shape), "BYTES")
    tensor.set_data_from_numpy(array)
    return tensor


class ScoringClient:
    def __init__(
        self,
        address: str,
        model_name: str,
        items_per_request: int = 64,
        max_in_flight: int = 4,
        timeout_s: float = 600.0,
        expect: str = "",
    ) -> None:
        """`expect`: the checkpoint the model must be serving (EvaluationJob.served_checkpoint);
        scoring requests are refused by a model that has swapped to another one."""
        self.model_name, self._expect = model_name, expect
        self.items_per_request, self.timeout_s = items_per_request, timeout_s
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._client = triton_aio.InferenceServerClient(address)

    async def close(self) -> None:
        await self._client.close()

    async def ready(self) -> bool:
        return bool(await self._client.is_model_ready(self.model_name))

    async def server_live(self) -> bool:
        return bool(await self._client.is_server_live())

    async def _packed(
        self,
        items: Sequence[Item],
        request: Callable[[Sequence[Item]], Awaitable[list[Output]]],
        on_part: PartDone[Output] | None,
    ) -> list[Output]:
        async def bounded(start: int) -> list[Output]:
            async with self._in_flight:
                outputs = await request(items[start : start + self.items_per_request])
            # Let the request waiting for this slot go out before this part is scored: the
            # batcher took every queued request, so the model idles until the next arrives.
            await asyncio.sleep(0)
            if on_part is not None:
                await on_part(start, outputs)
            return outputs

        starts = range(0, len(items), self.items_per_request)
        parts = await asyncio.gather(*(bounded(start) for start in starts))
        return [output for part in parts for output in part]

    async def _score(self, inputs: list[InferInput], outputs: list[str]) -> InferResult:
        if self._expect:  # one per item: Triton batches every input along the first dimension
            items = inputs[0].shape()[0]
            inputs = [*inputs, _bytes_input("EXPECT_CHECKPOINT", [self._expect] * items)]
        return await self._infer(inputs, outputs)

    async def _infer(self, inputs: list[InferInput], outputs: list[str]) -> InferResult:
        return await self._client.infer(
            self.model_name,
            inputs,
            outputs=[InferRequestedOutput(name) for name in outputs],
            client_timeout=self.timeout_s,
        )

    async def generate(
        self, prompts: Sequence[str], max_new_tokens: int, on_part: PartDone[str] | None = None
    ) -> list[str]:
        """Greedy continuations, each cut before its first blank line; `on_part` hears of
        each packed request as it returns, so its results can move on before the rest."""

        async def request(part: Sequence[str]) -> list[str]:
            budget = InferInput("MAX_NEW_TOKENS", [len(part), 1], "INT32")
            budget.set_data_from_numpy(np.full((len(part), 1), max_new_tokens, dtype=np.int32))
            result = await self._score([_bytes_input("TEXT", part), budget], ["OUTPUT_TEXT"])
            return [v.decode("utf-8") for v in result.as_numpy("OUTPUT_TEXT").reshape(-1)]

        return await self._packed(prompts, request, on_part)

    async def loglikelihood(
        self, pairs: Sequence[tuple[str, str]], on_part: PartDone[Continuation] | None = None
    ) -> list[Continuation]:
        """Log-prob of each (context, continuation) and whether greedy decoding yields it."""

        async def request(part: Sequence[tuple[str, str]]) -> list[Continuation]:
            contexts = _bytes_input("CONTEXT", [context for context, _ in part])
            continuations = _bytes_input("CONTINUATION", [cont for _, cont in part])
            result = await self._score([contexts, continuations], ["LOGPROB", "IS_GREEDY"])
            logprobs = result.as_numpy("LOGPROB").reshape(-1)
            greedy = result.as_numpy("IS_GREEDY").reshape(-1)
            return [
                Continuation(float(lp), bool(g)) for lp, g in zip(logprobs, greedy, strict=True)
            ]

        return await self._packed(pairs, request, on_part)

    async def swap(self, checkpoint: str) -> list[float]:
        """Have the endpoint serve `checkpoint`'s weights (empty: keep its own) and return
        the fingerprint it then gives (kiseki.serving.swap)."""
        result = await self._infer([_bytes_input("SWAP_CHECKPOINT", [checkpoint])], ["FINGERPRINT"])
        return [float(v) for v in result.as_numpy("FINGERPRINT").reshape(-1)]
