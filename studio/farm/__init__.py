"""The render farm: queue jobs and variation batches on a Ray cluster (the ``farm`` extra).

Plain Python, no Qt. Ray is imported only when a farm is started, so Studio works without it
and ``--ray`` says how to install it.
"""

from studio.farm.cluster import ClusterInfo, FarmError, connect, resolve_address
from studio.farm.driver import FarmLost, Outcome, RayFarm
from studio.farm.remote import WorkerConfig, WorkerInfo

__all__ = [
    "ClusterInfo",
    "FarmError",
    "FarmLost",
    "Outcome",
    "RayFarm",
    "WorkerConfig",
    "WorkerInfo",
    "connect",
    "resolve_address",
]
