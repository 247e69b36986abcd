"""A stand-in for the `tensorrt_llm` model, for tests only: a TensorRT-LLM engine needs a GPU
and its backend, neither of which exists here. It is a Triton Python model with the engine
model's tensors (the test takes them from kiseki's own tensorrt_llm config), running the same
HF checkpoint: greedy `request_output_len` tokens to `end_id`, the input excluded from
`output_ids` (kiseki's engine config sets exclude_input_in_output), or, with
`return_context_logits`, one row of logits per input token. On a cluster the real engine
answers in its place; nothing else in the repository is a stand-in.
"""

import json

import numpy as np
import torch
import triton_python_backend_utils as pb_utils
from transformers import AutoModelForCausalLM


def _value(request, name, default=None):
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return default if tensor is None else tensor.as_numpy().reshape(-1)


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        path = config["parameters"]["checkpoint_path"]["string_value"]
        self.model = AutoModelForCausalLM.from_pretrained(path).eval()

    @torch.inference_mode()
    def _answer(self, request):
        length = int(_value(request, "input_lengths")[0])
        ids = torch.tensor(_value(request, "input_ids")[:length], dtype=torch.long)[None]
        wants_logits = _value(request, "return_context_logits", [False])[0]
        if wants_logits:
            logits = self.model(ids).logits.float().numpy()
            return pb_utils.InferenceResponse([pb_utils.Tensor("context_logits", logits)])
        end_id = int(_value(request, "end_id")[0])
        output = self.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=int(_value(request, "request_output_len")[0]),
            eos_token_id=end_id,
            pad_token_id=int(_value(request, "pad_id", [end_id])[0]),
        )
        new = output[0, length:].numpy().astype(np.int32)
        return pb_utils.InferenceResponse(
            [
                pb_utils.Tensor("output_ids", new.reshape(1, 1, -1)),
                pb_utils.Tensor("sequence_length", np.array([[len(new)]], dtype=np.int32)),
            ]
        )

    def execute(self, requests):
        return [self._answer(request) for request in requests]
