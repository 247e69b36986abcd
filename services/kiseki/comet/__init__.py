"""COMET (comet_wmt22) in a long-lived child process of its own environment: `unbabel-comet`
needs transformers<5 and protobuf<5, the services transformers 5 and protobuf 6, so the
runner starts `worker.py` with that environment's python and speaks JSON lines with it."""
