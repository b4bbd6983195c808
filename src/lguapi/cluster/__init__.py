"""Clustered mode on Redis: shard leases, ownership of extensions, one event stream, routed commands.

See ``docs/cluster.md``. ``Monitor(..., cluster="redis://HOST:PORT/DB")`` hands the decision of
which extensions this process logs in to :class:`lguapi.cluster.node.ClusterNode`.
"""
from __future__ import annotations

from .leases import LeaseConfig, ShardLeases, assign, shard_of

__all__ = ["LeaseConfig", "ShardLeases", "assign", "shard_of"]
