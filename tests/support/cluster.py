"""A real Redis Cluster for the tests: three masters with a replica each, on free ports.

Debian's `redis-server --cluster-enabled yes` six times, joined by
`redis-cli --cluster create ... --cluster-replicas 1`; ready once every node
says `cluster_state:ok` and every master has a replica in sync. A short
`cluster-node-timeout` makes a killed master's replica take over in about
two seconds.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
from collections.abc import Callable

import redis

from tests.support.redis import RedisServer, require

NODE_TIMEOUT_MS = 1000


def until(
    check: Callable[[], bool], timeout: float, failure: str, interval: float = 0.05, tolerate: bool = False
) -> None:
    """Poll `check` until it is true; RuntimeError(`failure`) after `timeout` seconds.

    `tolerate`: a RedisError counts as "not yet" (a node restarting, a failover in progress).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            if not tolerate:
                raise
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(interval)


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too: both under 65536."""
    while True:
        port = random.randrange(20000, 55000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


class RedisClusterServers:
    def __init__(self, masters: int = 3) -> None:
        options = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                   "--cluster-node-timeout", str(NODE_TIMEOUT_MS)]  # fmt: skip
        self.nodes = [RedisServer(cluster_port(), *options) for _ in range(masters * 2)]

    @property
    def url(self) -> str:
        """Any node's URL: the server finds the others (here, the first node's)."""
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> RedisClusterServers:
        cli = require("redis-cli", "the Redis Cluster tests create a cluster with redis-cli --cluster")
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            subprocess.run(
                [cli, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            self.wait_ok()
        except BaseException:
            self.stop()
            raise
        return self

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)

    def info(self, port: int, section: str) -> dict[str, str]:
        with self.client(port) as conn:
            text = conn.execute_command("CLUSTER", "INFO") if section == "cluster" else None
            if text is None:
                raw = conn.info(section)
                return {key: str(value) for key, value in raw.items()}
        lines = (text.decode() if isinstance(text, bytes) else str(text)).splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)

    def wait_ok(self, timeout: float = 30) -> None:
        """Until every running node agrees the cluster is ok and every replica is in sync."""
        until(
            lambda: all(self._ready(node.port) for node in self.nodes if node.proc is not None),
            timeout, "the Redis Cluster did not become ok in time", interval=0.1, tolerate=True,
        )  # fmt: skip

    def _ready(self, port: int) -> bool:
        if self.info(port, "cluster").get("cluster_state") != "ok":
            return False
        replication = self.info(port, "replication")
        if replication.get("role") == "slave":
            return replication.get("master_link_status") == "up"
        return True

    def role(self, port: int) -> str:
        return self.info(port, "replication")["role"]

    def owner(self, key: str, timeout: float = 10) -> int:
        """The port of the master that owns `key`'s slot (once the nodes' views agree after a failover)."""
        deadline = time.monotonic() + timeout
        while True:
            port = self._owner(key)
            if self.role(port) == "master" and self._replicas(port):
                return port
            if time.monotonic() > deadline:
                raise RuntimeError(f"no settled owner for {key!r}")
            time.sleep(0.05)

    def _owner(self, key: str) -> int:
        with self.client(self.nodes[0].port) as conn:
            slot = int(conn.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in conn.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise LookupError(key)

    def _replicas(self, port: int) -> list[int]:
        with self.client(port) as conn:
            myid = conn.execute_command("CLUSTER", "MYID")
            myid = myid.decode() if isinstance(myid, bytes) else myid
            lines = conn.execute_command("CLUSTER", "REPLICAS", myid)
        addresses = [(line.decode() if isinstance(line, bytes) else line).split()[1] for line in lines]
        return [int(address.split("@")[0].rsplit(":", 1)[1]) for address in addresses]

    def replica_of(self, port: int) -> int:
        [replica] = self._replicas(port)
        return replica

    def failover(self, replica: int) -> None:
        """A manual failover: the replica takes over its master's slots (no data lost)."""
        with self.client(replica) as conn:
            conn.execute_command("CLUSTER", "FAILOVER")
        until(lambda: self.role(replica) == "master", 15, "the failover did not happen in time")
        self.wait_ok()

    def kill(self, port: int) -> RedisServer:
        """SIGKILL one node (not the first: its URL is the cluster's); `revive` brings it back."""
        [node] = [n for n in self.nodes if n.port == port]
        assert node is not self.nodes[0] and node.proc is not None
        node.proc.kill()
        node.proc.wait()
        node.proc = None
        return node

    def promoted(self, replica: int, timeout: float = 15) -> None:
        """Until `replica` has taken over its dead master's slots and the cluster is ok again."""
        until(
            lambda: self.role(replica) == "master",
            timeout,
            "the replica did not take over in time",
            tolerate=True,
        )
        self.wait_ok()

    def revive(self, node: RedisServer) -> None:
        """Restart a killed node: it rejoins (from its nodes.conf) as a replica of its old slots' owner."""
        node.start()
        self.wait_ok()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
