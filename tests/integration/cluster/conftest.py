"""The single-node cluster of these tests: started once, with the kiseki image imported, and
stopped at the end (the host put back; a test checks it does)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import images
import pytest
from singlenode import cluster as single_node
from singlenode.node import ClusterRunning

from support.cluster import LONG_FORM, why_no_cluster
from support.polling import poll_until

# `make test` runs the short form; the evaluation inside the cluster is the long form's
# (`make cluster-test`), so it is not collected there rather than counted as skipped.
collect_ignore = [] if LONG_FORM else ["test_evaluation_in_cluster.py"]
# The first `up` of a host imports the images (minutes); another session's cluster may hold
# the bridge meanwhile.
START_S = 900.0


@pytest.fixture(scope="session")
def built_images() -> dict[str, str]:
    """Built like `make images` (podman's layer cache: seconds when nothing changed)."""
    if reason := why_no_cluster():
        pytest.skip(reason)
    images.build()
    return images.image_names()


@pytest.fixture(scope="session")
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="session")
def cluster(built_images: dict[str, str], cluster_dir: Path) -> Iterator[single_node.Cluster]:
    """Up with the kiseki image (and the Triton image for the long form's serving pods)."""
    names = (
        (built_images["kiseki"], built_images["triton"]) if LONG_FORM else (built_images["kiseki"],)
    )

    def started() -> single_node.Cluster | None:
        try:
            return single_node.up(cluster_dir, names)
        except ClusterRunning:
            return None

    up = poll_until(started, timeout_s=START_S, interval_s=5.0)
    assert up is not None
    print(f"single-node cluster in {cluster_dir} (logs in {cluster_dir / 'logs'})")
    yield up
    if single_node.Cluster.load(cluster_dir).pids:  # a test had not stopped it already
        single_node.down(cluster_dir)
