"""Triton Python-backend scorer next to a TensorRT-LLM engine: CONTEXT_LOGITS + INPUT_IDS +
INPUT_LENGTH + CONTINUATION_START → LOGPROB, IS_GREEDY, so only two numbers per item leave
the server. Items packed into one request are padded to the longest; INPUT_LENGTH cuts that.

`kiseki_scoring` is copied next to this file; Triton's Python stub puts this directory on
sys.path, and kiseki itself is not installed in the TensorRT-LLM image.
"""

import numpy as np
import triton_python_backend_utils as pb_utils
from kiseki_scoring import continuation_logprob


def _score(request):
    logits = pb_utils.get_input_tensor_by_name(request, "CONTEXT_LOGITS").as_numpy()
    ids = pb_utils.get_input_tensor_by_name(request, "INPUT_IDS").as_numpy()
    lengths = pb_utils.get_input_tensor_by_name(request, "INPUT_LENGTH").as_numpy()[:, 0]
    starts = pb_utils.get_input_tensor_by_name(request, "CONTINUATION_START").as_numpy()[:, 0]
    results = [
        continuation_logprob(logits[i][:n], ids[i][:n], int(start))
        for i, (n, start) in enumerate(zip(lengths, starts, strict=True))
    ]
    logprob = np.array([[total] for total, _ in results], dtype=np.float64)
    greedy = np.array([[is_greedy] for _, is_greedy in results], dtype=np.bool_)
    return pb_utils.InferenceResponse(
        [pb_utils.Tensor("LOGPROB", logprob), pb_utils.Tensor("IS_GREEDY", greedy)]
    )


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                responses.append(_score(request))
            except ValueError as error:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error))))
        return responses
