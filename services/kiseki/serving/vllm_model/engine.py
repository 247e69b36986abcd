"""Greedy generation and continuation log-likelihood on vLLM's engine, as HFScorer gives them.

Runs in vLLM's own environment (tools/vllm/requirements.lock), inside the Triton Python
backend's stub or in a plain process (the benchmark's reference). Prompts are tokenised and
truncated here with the checkpoint's HF tokenizer exactly as HFScorer does, then handed to
vLLM as token ids, so both backends score the same tokens.
"""

import locale
import os
from dataclasses import dataclass
from pathlib import Path

from kiseki.serving.results import STOP_TEXT, Continuation, encode_pair
from kiseki.serving.swap import VLLM_SWAP_VERIFIED, check_swappable


@dataclass(frozen=True)
class EngineKnobs:
    # Cores vLLM's compute threads are pinned to, as VLLM_CPU_OMP_THREADS_BIND ("0-1"); empty
    # keeps vLLM's default of one thread. 1,024 four-shot prompts on a 4x256 GPT-2 here: 263
    # samples/s on one thread, 414-420 on two.
    threads_bind: str = ""
    # Bytes of KV cache. 1 GiB holds 524,288 tokens of a 2x128 GPT-2 (1,024 prompts of 512).
    kv_cache_bytes: int = 2**30
    # Sequences one engine step may hold; 256 matches the HF model's request batch.
    max_num_seqs: int = 256


def _prepare_environment(knobs: EngineKnobs) -> None:
    """Before `import vllm`: it reads these at import. The stub starts with an ASCII locale,
    where `import vllm` fails decoding its files; in-process engine core, because the stub has
    no `__main__` module for multiprocessing's spawn to re-import."""
    locale.setlocale(locale.LC_ALL, "C.UTF-8")
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    # See max_model_len below: one position past the model's, never computed.
    os.environ["VLLM_ALLOW_LONG_MAX_MODEL_LEN"] = "1"
    if knobs.threads_bind:
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = knobs.threads_bind


class VLLMScorer:
    def __init__(self, checkpoint: str, dtype: str = "float32", knobs: EngineKnobs | None = None):
        knobs = knobs or EngineKnobs()
        _prepare_environment(knobs)
        from transformers import AutoConfig
        from vllm import LLM

        self.max_positions = AutoConfig.from_pretrained(checkpoint).max_position_embeddings
        self.llm = LLM(
            checkpoint,
            dtype=dtype,
            # vLLM wants room for one sampled token after a prompt; HFScorer scores a context
            # and continuation filling all the positions. The token sampled after a full
            # log-likelihood prompt is never fed back (max_tokens=1), and generation prompts
            # are cut to leave their budget, so no position past the model's is computed.
            max_model_len=self.max_positions + 1,
            enable_prefix_caching=True,
            max_num_seqs=knobs.max_num_seqs,
            kv_cache_memory_bytes=knobs.kv_cache_bytes,
            # On CPU this fraction of RAM is checked as free at start: the KV cache above is
            # what is taken, so a shared machine only has to have that much.
            gpu_memory_utilization=0.1,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.tokenizer.truncation_side = "left"
        self.checkpoint = Path(checkpoint)

    def swap(self, checkpoint):
        """New weights into the running engine, in place; the prefix cache holds KV computed
        with the old ones, so it is dropped too (else shared prompts would answer stale)."""
        check_swappable(self.checkpoint, Path(checkpoint), VLLM_SWAP_VERIFIED)
        self.llm.collective_rpc("reload_weights", kwargs={"weights_path": str(checkpoint)})
        self.llm.reset_prefix_cache()
        self.checkpoint = Path(checkpoint)

    def _run(self, token_rows, params):
        from vllm.inputs import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=row) for row in token_rows]
        return self.llm.generate(prompts, params, use_tqdm=False)

    def generate(self, prompts, max_new_tokens):
        """Greedy continuations, each cut before its first blank line. vLLM's stop strings
        read the generated text only (llm-jp-eval's rule), and stop where HF's check stops."""
        from vllm import SamplingParams

        room = max(1, self.max_positions - max_new_tokens)
        rows = self.tokenizer(list(prompts), truncation=True, max_length=room)["input_ids"]
        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, stop=[STOP_TEXT])
        return [result.outputs[0].text for result in self._run(rows, params)]

    def _encode_pair(self, context, continuation):
        return encode_pair(
            lambda text: self.tokenizer.encode(text, add_special_tokens=False),
            self.tokenizer.eos_token_id,
            context,
            continuation,
            self.max_positions,
        )

    def loglikelihood(self, pairs):
        """Summed prompt log-prob of each continuation; greedy when every token ranks first."""
        from vllm import SamplingParams

        encoded = [self._encode_pair(context, continuation) for context, continuation in pairs]
        params = SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=0)
        results = self._run([context + cont for context, cont in encoded], params)
        scored = []
        for (context, continuation), result in zip(encoded, results, strict=True):
            steps = result.prompt_logprobs[len(context) :]
            chosen = [step[token] for step, token in zip(steps, continuation, strict=True)]
            scored.append(
                Continuation(
                    sum(float(c.logprob) for c in chosen), all(c.rank == 1 for c in chosen)
                )
            )
        return scored
