"""The COMET child: `python -I worker.py CHECKPOINT BATCH_SIZE` in an environment with
`unbabel-comet` (tools/comet). It imports nothing of kiseki, so it runs where kiseki's own
dependencies do not. It loads the model once, offline, on a GPU when torch sees one, writes
`{"ready": true, "gpus": N}`, then answers each request line `{"src": [...], "mt": [...],
"ref": [...]}` with `{"scores": [...]}`, or `{"error": "..."}` for a request it cannot score.
Protocol lines go to the stdout it was started with; everything the libraries print goes to
stderr, which the parent keeps for its error messages."""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any, TextIO


def _protocol_stream() -> TextIO:
    """The original stdout for protocol lines; fd 1 then points at stderr, so nothing that
    the libraries print can break a frame."""
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


def _score(model: Any, request: dict[str, Any], batch_size: int, gpus: int) -> list[float]:
    sources, predictions, golds = request["src"], request["mt"], request["ref"]
    if not len(sources) == len(predictions) == len(golds):
        raise ValueError(f"{len(sources)} sources, {len(predictions)} outputs, {len(golds)} golds")
    if not predictions:
        return []
    data = [
        {"src": s, "mt": p, "ref": g} for s, p, g in zip(sources, predictions, golds, strict=True)
    ]
    output = model.predict(data, batch_size=batch_size, gpus=gpus, progress_bar=False)
    return [float(value) for value in output.scores]


def main(checkpoint: str, batch_size: int) -> None:
    protocol = _protocol_stream()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no pod reaches a model hub
    torch: Any = importlib.import_module("torch")
    comet: Any = importlib.import_module("comet")
    model = comet.load_from_checkpoint(checkpoint, local_files_only=True)
    gpus = 1 if torch.cuda.is_available() else 0
    protocol.write(json.dumps({"ready": True, "gpus": gpus}) + "\n")
    for line in sys.stdin:
        try:
            reply: dict[str, Any] = {"scores": _score(model, json.loads(line), batch_size, gpus)}
        except (ValueError, KeyError, TypeError) as error:
            reply = {"error": f"{type(error).__name__}: {error}"}
        protocol.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
