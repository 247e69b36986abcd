"""vLLM's offline `LLM.generate`, in vLLM's environment: the vllm_serving benchmark's reference.

`python _vllm_offline.py CHECKPOINT PROMPTS_JSON MAX_NEW_TOKENS KNOBS_JSON` (EngineKnobs'
fields): starts the engine as kiseki's vLLM model does, prints "ready", then for each line
read generates every prompt once and prints the seconds it took, so its rounds pair with the
served ones. vLLM logs to stdout too: those lines start with REPLY.
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services"))

from kiseki.serving.results import STOP_TEXT
from kiseki.serving.vllm_model.engine import EngineKnobs, VLLMScorer

REPLY = "vllm-offline: "


def main() -> None:
    checkpoint, prompts_file, budget, knobs = sys.argv[1:5]
    prompts = json.loads(Path(prompts_file).read_text())
    llm = VLLMScorer(checkpoint, knobs=EngineKnobs(**json.loads(knobs))).llm
    from vllm import SamplingParams

    params = SamplingParams(temperature=0.0, max_tokens=int(budget), stop=[STOP_TEXT])
    print(f"{REPLY}ready", flush=True)
    for _ in sys.stdin:
        started = time.perf_counter()
        llm.generate(prompts, params, use_tqdm=False)
        print(f"{REPLY}{time.perf_counter() - started}", flush=True)


if __name__ == "__main__":
    main()
