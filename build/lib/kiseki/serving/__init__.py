"""Inference serving: the Triton model kiseki ships, endpoint management, TensorRT-LLM."""
