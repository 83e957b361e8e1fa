"""Finding and joining a Ray cluster, with errors an artist can act on.

Ray is optional (the ``farm`` extra): everything here imports it lazily and says how to install
it when it is missing. An address is checked with a plain TCP connect before Ray is asked,
because Ray itself retries an unreachable head for minutes before giving up.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = "Ray is not installed: pip install -e '.[farm]' (or pip install 'ray>=2.40')"
CONNECT_TIMEOUT_S = 3.0
ADDRESS_ENV = "STUDIO_RAY_ADDRESS"


class FarmError(RuntimeError):
    """The farm cannot do what was asked: one line that says why and what to do."""


@dataclass(frozen=True)
class ClusterInfo:
    address: str
    nodes: int  # machines alive
    cpus: float
    gpus: float

    def describe(self) -> str:
        gpus = f", {self.gpus:g} GPU(s)" if self.gpus else ", no GPU"
        where = "on this machine" if self.address == "local" else f"at {self.address}"
        return f"Ray cluster {where}: {self.nodes} machine(s), {self.cpus:g} CPU(s){gpus}"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:  # Ray is an optional extra
        raise FarmError(INSTALL_HINT) from None
    return ray


def resolve_address(address: str | None) -> str | None:
    """The address to join: the argument, else ``STUDIO_RAY_ADDRESS``, else the ``ray_address``
    setting; None starts a private local cluster on this machine."""
    if address:
        return address
    if os.environ.get(ADDRESS_ENV):
        return os.environ[ADDRESS_ENV]
    from studio.settings import Settings

    return Settings().get("ray_address") or None


def check_reachable(address: str) -> None:
    """Fail fast and clearly when nothing listens at ``host:port`` (``auto`` and ``ray://``
    addresses are left to Ray, which answers those quickly)."""
    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise FarmError(f"Ray address {address!r}: write it as HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise FarmError(
            f"no Ray cluster answers at {address} ({reason}); start one with "
            f"`ray start --head` there, or check the address"
        ) from None


def connect(address: str | None, **init_kwargs: Any) -> ClusterInfo:
    """Join the cluster at ``address`` (see :func:`resolve_address`), or start a local one."""
    ray = import_ray()
    address = resolve_address(address)
    if address is not None:
        check_reachable(address)
    if ray.is_initialized():
        return cluster_info(address or "local")
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    kwargs.update(init_kwargs)
    if address is None:
        kwargs.setdefault("_node_ip_address", "127.0.0.1")
    else:
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except ConnectionError as exc:
        raise FarmError(f"could not join the Ray cluster at {address}: {exc}") from None
    return cluster_info(address or "local")


def cluster_info(address: str) -> ClusterInfo:
    ray = import_ray()
    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return ClusterInfo(address, nodes, resources.get("CPU", 0.0), resources.get("GPU", 0.0))
