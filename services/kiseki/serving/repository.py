"""Writes the Triton model directory that serves one HuggingFace checkpoint.

Both backends run the same Triton model file and tensors; `backend` picks its scorer: "hf"
(kiseki's HFScorer, in the services' environment) or "vllm" (vLLM's engine, in vLLM's own
environment, named to the stub by EXECUTION_ENV_PATH).
"""

from __future__ import annotations

import argparse
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from kiseki.local.paths import vllm_env_dir

# VLLM_CPU_OMP_THREADS_BIND's form: cores and ranges of cores, comma separated ("0-1", "0,2-3").
THREADS_BIND = re.compile(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$")
MODEL_FILE = Path(__file__).resolve().parent / "triton_model" / "model.py"
SERVICES_PATH = Path(__file__).resolve().parents[2]
STRING, INT32, FP64, BOOL = mc.TYPE_STRING, mc.TYPE_INT32, mc.TYPE_FP64, mc.TYPE_BOOL


@dataclass(frozen=True)
class ServingOptions:
    dtype: str = "float32"
    device: str = "auto"
    # Items per request batch Triton may form; the model scores them in forward chunks.
    max_batch_size: int = 256
    max_items_per_forward: int = 64
    queue_delay_us: int = 2000
    default_max_new_tokens: int = 32
    # KIND_GPU instances on a machine with a GPU; the model then runs with device "auto".
    gpu: bool = False
    backend: str = "hf"
    # vLLM's compute cores (VLLM_CPU_OMP_THREADS_BIND, e.g. "0-1"); empty: its one thread.
    # 1,024 four-shot prompts, 4x256 GPT-2: 263 samples/s on one thread, 414-420 on two.
    vllm_threads_bind: str = ""
    # vLLM's KV cache in bytes: 1 GiB holds 524,288 tokens of a 2x128 GPT-2.
    vllm_kv_cache_bytes: int = 2**30


def _hf_parameters(options: ServingOptions) -> dict[str, str]:
    return {"device": options.device, "max_items_per_forward": str(options.max_items_per_forward)}


def _vllm_parameters(options: ServingOptions) -> dict[str, str]:
    """vLLM schedules a whole request batch itself: one engine call per batch, not chunks."""
    return {
        "max_items_per_forward": str(options.max_batch_size),
        "vllm_max_num_seqs": str(options.max_batch_size),
        "vllm_threads_bind": options.vllm_threads_bind,
        "vllm_kv_cache_bytes": str(options.vllm_kv_cache_bytes),
        "EXECUTION_ENV_PATH": str(vllm_env_dir()),
    }


BACKENDS = {"hf": _hf_parameters, "vllm": _vllm_parameters}


def _tensor(name: str, dtype: int, optional: bool = False) -> mc.ModelInput:
    return mc.ModelInput(name=name, data_type=dtype, dims=[1], optional=optional)


def model_config(name: str, checkpoint: Path, options: ServingOptions) -> mc.ModelConfig:
    if options.backend not in BACKENDS:
        raise ValueError(f"unknown serving backend {options.backend!r}; one of {sorted(BACKENDS)}")
    config = mc.ModelConfig(name=name, backend="python", max_batch_size=options.max_batch_size)
    config.input.extend(
        [
            _tensor("TEXT", STRING, optional=True),
            _tensor("MAX_NEW_TOKENS", INT32, optional=True),
            _tensor("CONTEXT", STRING, optional=True),
            _tensor("CONTINUATION", STRING, optional=True),
            _tensor("SWAP_CHECKPOINT", STRING, optional=True),
            _tensor("EXPECT_CHECKPOINT", STRING, optional=True),
        ]
    )
    config.output.extend(
        mc.ModelOutput(name=n, data_type=t, dims=[1])
        for n, t in (("OUTPUT_TEXT", STRING), ("LOGPROB", FP64), ("IS_GREEDY", BOOL))
    )
    config.output.append(mc.ModelOutput(name="FINGERPRINT", data_type=FP64, dims=[-1]))
    config.dynamic_batching.max_queue_delay_microseconds = options.queue_delay_us
    kind = mc.ModelInstanceGroup.KIND_GPU if options.gpu else mc.ModelInstanceGroup.KIND_CPU
    config.instance_group.append(mc.ModelInstanceGroup(kind=kind, count=1))
    parameters = {
        "scorer": options.backend,
        "checkpoint_path": str(checkpoint),
        "dtype": options.dtype,
        "default_max_new_tokens": str(options.default_max_new_tokens),
        "kiseki_services_path": str(SERVICES_PATH),
        **BACKENDS[options.backend](options),
    }
    for key, value in parameters.items():
        config.parameters[key].string_value = value
    return config


def write_model(repository: Path, name: str, checkpoint: Path, options: ServingOptions) -> Path:
    """Create `<repository>/<name>/{config.pbtxt,1/model.py}`; replaces an older copy."""
    directory = repository / name
    shutil.rmtree(directory, ignore_errors=True)
    (directory / "1").mkdir(parents=True)
    shutil.copy(MODEL_FILE, directory / "1" / "model.py")
    config = model_config(name, checkpoint, options)
    (directory / "config.pbtxt").write_text(text_format.MessageToString(config))
    return directory


def main() -> None:
    """`python -m kiseki.serving.repository`: the init container of a serving pod."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the model repository")
    parser.add_argument("--name", required=True, help="the model's name (the checkpoint id)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the HF checkpoint")
    parser.add_argument("--gpu", action="store_true", help="KIND_GPU model instances")
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="hf", help="the scorer")
    parser.add_argument("--dtype", default="float32", help="the weights' dtype when loaded")
    parser.add_argument("--vllm-threads", default="", help="vLLM's compute cores, e.g. 0-3")
    args = parser.parse_args()
    if args.vllm_threads and not THREADS_BIND.match(args.vllm_threads):
        parser.error(f"--vllm-threads {args.vllm_threads!r}: expected cores like 0-3 or 0,2")
    options = ServingOptions(
        gpu=args.gpu, backend=args.backend, dtype=args.dtype, vllm_threads_bind=args.vllm_threads
    )
    print(write_model(args.out, args.name, args.checkpoint, options))


if __name__ == "__main__":
    main()
