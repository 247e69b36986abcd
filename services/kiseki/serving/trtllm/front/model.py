"""kiseki's endpoint contract in front of a TensorRT-LLM engine: the model the runners call.

The runners speak one contract to every backend (see serving/triton_model/model.py): TEXT
(+ MAX_NEW_TOKENS) → OUTPUT_TEXT, or CONTEXT + CONTINUATION → LOGPROB, IS_GREEDY, many items
per request. This Python model tokenises as the HF backend does, sends each item to the
engine as its own request (TensorRT-LLM batches requests in flight; one packed request would
run as one sequence), and answers with the same rules:
- generation: greedy `tensorrt_llm` with end_id, to MAX_NEW_TOKENS, the generated text cut at
  its first blank line (no stop words: the engine would match them against the prompt too);
- log-likelihood: the `loglikelihood` ensemble (engine context logits → `scorer`).

Parameters: tokenizer_dir, add_special_tokens, max_input_len, default_max_new_tokens,
decoupled (the engine's transaction policy). `kiseki_results` (serving/results.py) is
copied next to this file: kiseki is not installed in the TensorRT-LLM image.
"""

import asyncio
import json

import numpy as np
import triton_python_backend_utils as pb_utils
from kiseki_results import encode_pair, first_answer
from transformers import AutoTokenizer


def _strings(request, name):
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        return None
    return [item.decode("utf-8") for item in tensor.as_numpy().reshape(-1)]


def _ints(name, values, dtype=np.int32):
    return pb_utils.Tensor(name, np.array([values], dtype=dtype))


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.tokenizer = AutoTokenizer.from_pretrained(params["tokenizer_dir"])
        self.tokenizer.truncation_side = "left"
        self.add_special_tokens = params.get("add_special_tokens", "true") == "true"
        self.max_input_len = int(params["max_input_len"])
        self.default_max_new_tokens = int(params.get("default_max_new_tokens", "32"))
        self.decoupled = params.get("decoupled", "false") == "true"
        self.end_id = int(self.tokenizer.eos_token_id or 0)
        pad = self.tokenizer.pad_token_id
        self.pad_id = self.end_id if pad is None else int(pad)

    async def _call(self, model, inputs, outputs):
        request = pb_utils.InferenceRequest(
            model_name=model, inputs=inputs, requested_output_names=outputs
        )
        if not self.decoupled or model != "tensorrt_llm":
            response = await request.async_exec()
        else:  # the last response that carries outputs is the whole answer (no streaming)
            response = None
            async for part in await request.async_exec(decoupled=True):
                if part.has_error() or part.output_tensors():
                    response = part
        if response is None or response.has_error():
            raise RuntimeError(
                f"{model}: {response.error().message() if response else 'no answer'}"
            )
        return [pb_utils.get_output_tensor_by_name(response, name).as_numpy() for name in outputs]

    async def _generate(self, prompt, budget):
        ids = self.tokenizer(
            prompt,
            add_special_tokens=self.add_special_tokens,
            truncation=True,
            max_length=self.max_input_len,
        )["input_ids"]
        inputs = [_ints("input_ids", ids), _ints("input_lengths", [len(ids)])]
        inputs += [_ints("request_output_len", [budget])]
        inputs += [_ints("end_id", [self.end_id]), _ints("pad_id", [self.pad_id])]
        output_ids, lengths = await self._call(
            "tensorrt_llm", inputs, ["output_ids", "sequence_length"]
        )
        tokens = output_ids.reshape(-1)[: int(lengths.reshape(-1)[0])]
        return first_answer(self.tokenizer.decode(tokens, skip_special_tokens=True))

    async def _loglikelihood(self, context, continuation):
        context_ids, continuation_ids = encode_pair(
            lambda text: self.tokenizer.encode(text, add_special_tokens=False),
            self.tokenizer.eos_token_id,
            context,
            continuation,
            self.max_input_len,
        )
        ids = context_ids + continuation_ids
        inputs = [_ints("input_ids", ids), _ints("input_lengths", [len(ids)])]
        inputs += [_ints("continuation_start", [len(context_ids)])]
        inputs += [_ints("request_output_len", [1])]
        inputs += [pb_utils.Tensor("return_context_logits", np.array([[True]], dtype=np.bool_))]
        logprob, greedy = await self._call("loglikelihood", inputs, ["logprob", "is_greedy"])
        return float(logprob.reshape(-1)[0]), bool(greedy.reshape(-1)[0])

    async def _answer(self, request):
        texts = _strings(request, "TEXT")
        if texts is not None:
            budget = pb_utils.get_input_tensor_by_name(request, "MAX_NEW_TOKENS")
            budget = self.default_max_new_tokens if budget is None else int(budget.as_numpy().max())
            outputs = await asyncio.gather(*(self._generate(text, budget) for text in texts))
            array = np.array([t.encode("utf-8") for t in outputs], dtype=np.object_)
            return pb_utils.InferenceResponse(
                [pb_utils.Tensor("OUTPUT_TEXT", array.reshape(-1, 1))]
            )
        contexts = _strings(request, "CONTEXT")
        continuations = _strings(request, "CONTINUATION")
        if contexts is None or continuations is None or len(contexts) != len(continuations):
            raise ValueError("send TEXT, or CONTEXT and CONTINUATION with as many items")
        pairs = zip(contexts, continuations, strict=True)
        scored = await asyncio.gather(*(self._loglikelihood(c, x) for c, x in pairs))
        logprob = np.array([[total] for total, _ in scored], dtype=np.float64)
        greedy = np.array([[is_greedy] for _, is_greedy in scored], dtype=np.bool_)
        return pb_utils.InferenceResponse(
            [pb_utils.Tensor("LOGPROB", logprob), pb_utils.Tensor("IS_GREEDY", greedy)]
        )

    async def _respond(self, request):
        try:
            return await self._answer(request)
        except Exception as error:  # one bad request fails alone, with its reason
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error)))

    async def execute(self, requests):
        return list(await asyncio.gather(*(self._respond(r) for r in requests)))
