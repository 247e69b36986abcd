"""kiseki's Triton Python-backend model: greedy generation and continuation log-likelihood.

One request carries many items (packing beats client concurrency). A request holds either
TEXT (+ optional MAX_NEW_TOKENS) → OUTPUT_TEXT, or CONTEXT + CONTINUATION → LOGPROB and
IS_GREEDY, or SWAP_CHECKPOINT (a path; empty: none) → FINGERPRINT, the control request of a
weight hot-swap (kiseki.serving.swap), run after the batch's scoring. A scoring request may
name the checkpoint it expects (EXPECT_CHECKPOINT, a path): one the model no longer serves
is refused, so a job of the previous checkpoint is never scored on swapped weights. The items
of every request in a dynamic batch are scored together, in forward chunks of at most
max_items_per_forward, then handed back to their requests.
Parameters: scorer (a key of SCORERS), checkpoint_path, dtype, device, max_items_per_forward,
default_max_new_tokens, kiseki_services_path (where the kiseki package is, when it is not
installed), and the vLLM engine's vllm_threads_bind, vllm_kv_cache_bytes, vllm_max_num_seqs.
"""

import json
import sys
from collections import defaultdict

import numpy as np
import triton_python_backend_utils as pb_utils

# Starts the error of a request that expects weights the model no longer serves.
STALE_CHECKPOINT = "the model serves another checkpoint"


def _strings(request, name):
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        return None
    return [item.decode("utf-8") for item in tensor.as_numpy().reshape(-1)]


def _bytes_tensor(name, texts):
    array = np.array([t.encode("utf-8") for t in texts], dtype=np.object_).reshape(-1, 1)
    return pb_utils.Tensor(name, array)


def _hf_scorer(params):
    from kiseki.serving.hf_scoring import HFScorer

    return HFScorer(
        params["checkpoint_path"], params.get("dtype", "float32"), params.get("device", "auto")
    )


def _vllm_scorer(params):
    from kiseki.serving.vllm_model.engine import EngineKnobs, VLLMScorer

    knobs = EngineKnobs(
        threads_bind=params.get("vllm_threads_bind", ""),
        kv_cache_bytes=int(params.get("vllm_kv_cache_bytes", str(2**30))),
        max_num_seqs=int(params.get("vllm_max_num_seqs", "256")),
    )
    return VLLMScorer(params["checkpoint_path"], params.get("dtype", "float32"), knobs)


# Each scorer has generate(prompts, max_new_tokens) and loglikelihood(pairs).
SCORERS = {"hf": _hf_scorer, "vllm": _vllm_scorer}


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        if params.get("kiseki_services_path"):
            sys.path.insert(0, params["kiseki_services_path"])
        self.chunk = int(params.get("max_items_per_forward", "64"))
        self.default_max_new_tokens = int(params.get("default_max_new_tokens", "32"))
        self.scorer = SCORERS[params.get("scorer", "hf")](params)

    def _max_new_tokens(self, request):
        budget = pb_utils.get_input_tensor_by_name(request, "MAX_NEW_TOKENS")
        if budget is None:
            return self.default_max_new_tokens
        return int(budget.as_numpy().max())

    def _parse(self, request):
        """('generate', budget, [prompts]), ('loglikelihood', None, [(context, cont)]) or
        ('swap', None, [path])."""
        swap = _strings(request, "SWAP_CHECKPOINT")
        if swap is not None:
            return "swap", None, swap[:1]
        expected = _strings(request, "EXPECT_CHECKPOINT")
        if expected and expected[0] and expected[0] != str(self.scorer.checkpoint):
            raise ValueError(
                f"{STALE_CHECKPOINT}: it serves {self.scorer.checkpoint}, not {expected[0]}"
            )
        texts = _strings(request, "TEXT")
        if texts is not None:
            return "generate", self._max_new_tokens(request), texts
        contexts = _strings(request, "CONTEXT")
        continuations = _strings(request, "CONTINUATION")
        if contexts is None or continuations is None:
            raise ValueError("send TEXT, or CONTEXT and CONTINUATION")
        if len(contexts) != len(continuations):
            raise ValueError("CONTEXT and CONTINUATION must have the same number of items")
        return "loglikelihood", None, list(zip(contexts, continuations, strict=True))

    def _swap(self, path):
        from kiseki.serving.swap import FINGERPRINT_PROBE

        if path:
            self.scorer.swap(path)
        return [c.logprob for c in self.scorer.loglikelihood(list(FINGERPRINT_PROBE))]

    def _run(self, kind, budget, items):
        if kind == "swap":
            return [self._swap(items[0])]
        results = []
        for start in range(0, len(items), self.chunk):
            part = items[start : start + self.chunk]
            if kind == "generate":
                results.extend(self.scorer.generate(part, budget))
            else:
                results.extend(self.scorer.loglikelihood(part))
        return results

    def _response(self, kind, results):
        if kind == "swap":
            fingerprint = np.array(results, dtype=np.float64).reshape(1, -1)
            return pb_utils.InferenceResponse([pb_utils.Tensor("FINGERPRINT", fingerprint)])
        if kind == "generate":
            return pb_utils.InferenceResponse([_bytes_tensor("OUTPUT_TEXT", results)])
        logprob = np.array([r.logprob for r in results], dtype=np.float64).reshape(-1, 1)
        greedy = np.array([r.is_greedy for r in results], dtype=np.bool_).reshape(-1, 1)
        return pb_utils.InferenceResponse(
            [pb_utils.Tensor("LOGPROB", logprob), pb_utils.Tensor("IS_GREEDY", greedy)]
        )

    def execute(self, requests):
        responses = [None] * len(requests)
        groups = defaultdict(list)  # (kind, budget) -> [(request index, items)]
        for index, request in enumerate(requests):
            try:
                kind, budget, items = self._parse(request)
                groups[(kind, budget)].append((index, items))
            except Exception as error:
                responses[index] = pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(str(error))
                )
        # A swap comes after the scoring that arrived with it, which still wants the old weights.
        for (kind, budget), members in sorted(groups.items(), key=lambda g: g[0][0] == "swap"):
            try:
                results = self._run(kind, budget, [item for _, items in members for item in items])
            except Exception as error:
                for index, _ in members:
                    responses[index] = pb_utils.InferenceResponse(
                        error=pb_utils.TritonError(str(error))
                    )
                continue
            offset = 0
            for index, items in members:
                responses[index] = self._response(kind, results[offset : offset + len(items)])
                offset += len(items)
        return responses
