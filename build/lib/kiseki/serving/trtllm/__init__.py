"""The TensorRT-LLM path for GPU clusters: the Triton model repository in the in-flight
batching layout, a log-prob scorer, and the engine build as a Kubernetes Job."""
