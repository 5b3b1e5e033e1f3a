"""Host ports for replicas: free ports on 127.0.0.1 and the container-port mapping."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from coalmine.api.workloads import Container

__all__ = ["LOCALHOST", "PortAllocator", "PortMap"]

LOCALHOST = "127.0.0.1"


class PortAllocator:
    """Hands out free TCP ports on 127.0.0.1, never the same one twice while it is held.

    The kernel picks the port (bind to port 0), so nothing assumes a fixed port. The
    socket is closed before the replica binds the port: another program could take it in
    between, which a replica notices as a failed start (see `is_free`).
    """

    def __init__(self) -> None:
        self._held: set[int] = set()

    def allocate(self) -> int:
        for _ in range(100):
            port = _free_port()
            if port not in self._held:
                self._held.add(port)
                return port
        raise OSError("no free TCP port on 127.0.0.1 after 100 tries")

    def hold(self, port: int) -> None:
        """Count a port an adopted replica already listens on as handed out."""
        self._held.add(port)

    def release(self, port: int) -> None:
        self._held.discard(port)

    @staticmethod
    def is_free(port: int) -> bool:
        """Can a new process bind this port now? (False when someone else holds it.)"""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOCALHOST, port))
            except OSError:
                return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PortMap:
    """One replica's ports: container port -> host port, and port names -> container port."""

    host_ports: Mapping[int, int]
    names: Mapping[str, int]

    @classmethod
    def allocate(cls, container: Container, allocator: PortAllocator) -> PortMap:
        host_ports = {port.container_port: allocator.allocate() for port in container.ports}
        names = {port.name: port.container_port for port in container.ports if port.name}
        return cls(host_ports, names)

    @classmethod
    def adopt(
        cls, container: Container, host_ports: Mapping[int, int], allocator: PortAllocator
    ) -> PortMap:
        """The ports an adopted replica already has; ports it lacks (none, normally) are
        allocated."""
        for port in host_ports.values():
            allocator.hold(port)
        ports = {
            p.container_port: host_ports.get(p.container_port) or allocator.allocate()
            for p in container.ports
        }
        names = {port.name: port.container_port for port in container.ports if port.name}
        return cls(ports, names)

    @property
    def primary(self) -> int | None:
        """The host port of the first containerPort: what the process gets as PORT."""
        return next(iter(self.host_ports.values()), None)

    def host_port(self, port: int | str) -> int | None:
        """The host port for a container port number or name; None if not declared."""
        number = self.names.get(port) if isinstance(port, str) else port
        if number is None:
            return None
        return self.host_ports.get(number)

    def release(self, allocator: PortAllocator) -> None:
        for port in self.host_ports.values():
            allocator.release(port)

    def with_taken_ports_replaced(self, allocator: PortAllocator) -> PortMap:
        """A copy in which every port someone else has bound since is swapped for a free one.

        Called before a restart: a replica keeps its ports (like a pod keeps its IP) unless
        another program took one while the replica was down.
        """
        host_ports = dict(self.host_ports)
        for container_port, host_port in self.host_ports.items():
            if not allocator.is_free(host_port):
                allocator.release(host_port)
                host_ports[container_port] = allocator.allocate()
        return PortMap(host_ports, self.names)
