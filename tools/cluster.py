"""A single-node Kubernetes cluster on this machine from real parts (tools/singlenode).

    .venv/bin/python tools/cluster.py up [--workdir DIR] [--kiseki-images]   prints the kubeconfig
    .venv/bin/python tools/cluster.py status [--workdir DIR]   which parts run, the Node Ready?
    .venv/bin/python tools/cluster.py down [--workdir DIR]     stop it, put the host back

Needs root (the kubelet, containerd and the bridge) and `make setup-kube`. --kiseki-images
imports the images `make images` built (localhost/kiseki and localhost/kiseki-triton) into the
node's containerd; the first import of each takes minutes, later clusters find them there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "services"))

import images  # noqa: E402
from singlenode import cluster, host  # noqa: E402

DEFAULT_WORKDIR = REPO / ".artifacts" / "cluster"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "status", "down"))
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--kiseki-images", action="store_true")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.action == "up":
        names = tuple(images.image_names().values()) if args.kiseki_images else ()
        up = cluster.up(args.workdir.resolve(), names)
        report: dict[str, object] = {"kubeconfig": str(up.kubeconfig), "api_url": up.api_url}
    elif args.action == "status":
        report = cluster.status(args.workdir.resolve())
    else:
        after = cluster.down(args.workdir.resolve())
        before = host.HostState.load(args.workdir.resolve() / "host-before.json")
        report = {"host_restored": after == before, "left": _left(before, after)}
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=1))
    return 0 if report.get("host_restored", True) else 1


def _left(before: host.HostState, after: host.HostState) -> dict[str, object]:
    was, now = asdict(before), asdict(after)
    return {key: now[key] for key in now if now[key] != was[key]}


if __name__ == "__main__":
    sys.exit(main())
