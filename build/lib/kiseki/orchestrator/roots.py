"""Where checkpoints may be served from: a checkpoint message names a path, and the
orchestrator serves only what lies under the configured roots (symlinks resolved), so a
forged or mistaken message cannot make it load an arbitrary file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiseki.core.config import setting


@dataclass(frozen=True)
class CheckpointRoots:
    roots: tuple[str, ...] = setting(
        "KISEKI_CHECKPOINT_ROOTS",
        (),
        doc="comma-separated directories (or object-store prefixes) checkpoints may be served"
        " from; one elsewhere is FAILED with the reason. Empty allows any path: set it on a"
        " cluster (the chart sets the checkpoint volume's mount)",
    )

    def refusal(self, uri: str) -> str:
        """Why `uri` may not be served; empty when it may."""
        if not self.roots:
            return ""
        allowed = ", ".join(self.roots)
        if "://" in uri:
            if any(uri.startswith(root.rstrip("/") + "/") for root in self.roots if "://" in root):
                return ""
            return f"checkpoint uri {uri!r} is outside the configured roots ({allowed})"
        path = Path(uri)
        if not path.is_absolute():
            return f"checkpoint uri {uri!r} is not an absolute path"
        resolved = path.resolve()
        for root in self.roots:
            if "://" not in root and resolved.is_relative_to(Path(root).resolve()):
                return ""
        return f"checkpoint uri {uri!r} resolves outside the configured roots ({allowed})"
