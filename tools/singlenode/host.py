"""What a node changes on the host, recorded before `up` and put back on `down`.

The kubelet sets three kernel sysctls, makes folders under /var/lib and /var/log, adds iptables
chains (IPv4 and IPv6) and the kubepods cgroups, and bind-mounts its root folder onto itself;
kube-proxy adds its chains; containerd's CNI calls bind-mount network namespaces under
/run/netns and make the bridge and its veths (NOTES, "A real single-node Kubernetes"). Only what
is the cluster's is recorded (KUBE-* rules, cni-* netns, the bridge, kubepods cgroups, mounts
under its folders): other engineers' podman networks change the host meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

SYSCTLS = (
    "vm/overcommit_memory",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/bridge/bridge-nf-call-iptables",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
)
# Folders the kubelet and the CNI library make at fixed places whatever their flags say.
FOLDERS = (
    "/var/lib/kubelet",
    "/var/lib/kubelet/device-plugins",
    "/var/lib/kubelet/plugins",
    "/var/lib/kubelet/plugins_registry",
    "/var/lib/cni",
    "/var/lib/cni/results",
    "/var/lib/cni/networks",
    "/run/containerd",
    "/run/netns",
    "/var/log/pods",  # the kubelet's default; it is told the work directory's instead
    "/var/log/containers",  # the kubelet's links to its pods' logs: not configurable
)
IPTABLES = ("iptables", "ip6tables")
TABLES = ("filter", "nat", "mangle")
NETNS = Path("/run/netns")
CGROUPS = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class HostState:
    sysctls: dict[str, str]
    folders: list[str]
    rules: list[str]  # "iptables nat -A ..." lines naming a KUBE- chain
    links: list[str]  # the bridge and what is attached to it
    netns: list[str]
    cgroups: list[str]
    mounts: list[str]  # under the work directory and the kubelet's and CNI's fixed folders

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> HostState:
        return cls(**json.loads(path.read_text()))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _rules() -> list[str]:
    found = []
    for tool in IPTABLES:
        for table in TABLES:
            done = subprocess.run([tool, "-w", "-t", table, "-S"], capture_output=True, text=True)
            found += [
                f"{tool} {table} {line}" for line in done.stdout.splitlines() if "KUBE-" in line
            ]
    return sorted(found)


def _links(bridge: str) -> list[str]:
    shown = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = []
    for line in shown.splitlines():
        link = line.split(":")[1].strip().split("@")[0]
        if link == bridge or f" master {bridge} " in line:
            names.append(link)
    return sorted(names)


def _cgroups() -> list[str]:
    return sorted(str(p) for p in CGROUPS.glob("*/kubepods*") if p.is_dir())


def _mounts(work: Path) -> list[str]:
    """Mount points of the cluster's: the kubelet bind-mounts its root folder onto itself, pods'
    volumes are mounted below it, network namespaces under /run/netns."""
    roots = (str(work), "/var/lib/kubelet", str(NETNS), "/run/containerd")
    points = (line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())
    return sorted(p for p in points if any(p == r or p.startswith(f"{r}/") for r in roots))


def snapshot(bridge: str, work: Path) -> HostState:
    sysctls = {name: _read(Path("/proc/sys") / name) for name in SYSCTLS}
    return HostState(
        sysctls={name: value for name, value in sysctls.items() if value is not None},
        folders=[folder for folder in FOLDERS if Path(folder).is_dir()],
        rules=_rules(),
        links=_links(bridge),
        netns=sorted(p.name for p in NETNS.glob("cni-*")),
        cgroups=_cgroups(),
        mounts=_mounts(work),
    )


def restore(before: HostState, bridge: str, work: Path) -> HostState:
    """Undo what differs from `before`; return the state after (equal to it when all went)."""
    now = snapshot(bridge, work)
    for point in sorted(set(now.mounts) - set(before.mounts), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    for name, value in before.sysctls.items():
        if now.sysctls.get(name) != value:
            (Path("/proc/sys") / name).write_text(value)
    _restore_rules(set(before.rules), now.rules)
    for link in set(now.links) - set(before.links):
        subprocess.run(["ip", "link", "delete", link], capture_output=True)
    for entry in set(now.netns) - set(before.netns):
        (NETNS / entry).unlink(missing_ok=True)
    for cgroup in sorted(set(now.cgroups) - set(before.cgroups)):
        _remove_cgroup(Path(cgroup))
    for folder in sorted(set(now.folders) - set(before.folders)):
        if not any(
            folder.startswith(f"{kept}/") for kept in set(now.folders) - set(before.folders)
        ):
            _remove_folder(Path(folder))
    return snapshot(bridge, work)


def _restore_rules(before: set[str], now: list[str]) -> None:
    added = [line for line in now if line not in before]
    # Jumps and rules first, then the emptied chains.
    for line in (line for line in added if " -A " in f" {line}"):
        tool, table, rule = line.split(" ", 2)
        args = ["-D", *rule.split()[1:]]
        subprocess.run([tool, "-w", "-t", table, *args], capture_output=True)
    for line in (line for line in added if " -N " in f" {line}"):
        tool, table, rule = line.split(" ", 2)
        chain = rule.split()[1]
        subprocess.run([tool, "-w", "-t", table, "-F", chain], capture_output=True)
        subprocess.run([tool, "-w", "-t", table, "-X", chain], capture_output=True)


def _remove_cgroup(top: Path) -> None:
    """A cgroup folder is removed with rmdir, deepest first (its files are the kernel's)."""
    for child in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            child.rmdir()
    with contextlib.suppress(OSError):
        top.rmdir()


def _remove_folder(folder: Path) -> None:
    """Unmount what the kubelet mounted below `folder` (pods' volumes), then remove it."""
    mounts = Path("/proc/mounts").read_text().splitlines()
    below = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{folder}/")]
    for point in sorted(below, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)
