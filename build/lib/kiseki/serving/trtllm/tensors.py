"""Small helpers that fill Triton ModelConfig messages, so each model reads as a table."""

from __future__ import annotations

from dataclasses import dataclass

from tritonclient.grpc import model_config_pb2 as mc

STRING, BOOL, INT32, UINT64 = mc.TYPE_STRING, mc.TYPE_BOOL, mc.TYPE_INT32, mc.TYPE_UINT64
INT64, FP16, FP32 = mc.TYPE_INT64, mc.TYPE_FP16, mc.TYPE_FP32


@dataclass(frozen=True)
class Tensor:
    name: str
    data_type: int
    dims: tuple[int, ...]
    optional: bool = False
    ragged: bool = False
    # The tensorrtllm backend reads per-request scalars without their [1] dimension.
    scalar: bool = False


def add_inputs(config: mc.ModelConfig, tensors: list[Tensor]) -> None:
    for tensor in tensors:
        entry = config.input.add(
            name=tensor.name,
            data_type=tensor.data_type,
            dims=tensor.dims,
            optional=tensor.optional,
            allow_ragged_batch=tensor.ragged,
        )
        if tensor.scalar:
            entry.reshape.SetInParent()


def add_outputs(config: mc.ModelConfig, tensors: list[Tensor]) -> None:
    for tensor in tensors:
        config.output.add(name=tensor.name, data_type=tensor.data_type, dims=tensor.dims)


def set_parameters(config: mc.ModelConfig, values: dict[str, str]) -> None:
    for key, value in values.items():
        config.parameters[key].string_value = value


def on_cpu(config: mc.ModelConfig, count: int) -> None:
    config.instance_group.add(kind=mc.ModelInstanceGroup.KIND_CPU, count=count)


def add_step(
    ensemble: mc.ModelConfig, model: str, inputs: dict[str, str], outputs: dict[str, str]
) -> None:
    """One ensemble step: the model's tensor names mapped to the ensemble's tensor names."""
    step = ensemble.ensemble_scheduling.step.add(model_name=model, model_version=-1)
    step.input_map.update(inputs)
    step.output_map.update(outputs)


def flag(value: bool) -> str:
    return "true" if value else "false"
