"""Checkpoints that pretraining frameworks write, converted to a HuggingFace checkpoint.

Megatron-LM (torch_dist and the legacy `mp_rank_XX/` layout), DeepSpeed ZeRO and, refused
with a reason, NeMo 2. Each reader is one module registered in `registry.CONVERTERS` by the
proto's CheckpointFormat; `python -m kiseki.conversion` runs one conversion as its own process.
"""
