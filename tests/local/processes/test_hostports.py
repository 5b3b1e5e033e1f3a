"""Free ports on 127.0.0.1, mapped from container ports and names."""

from __future__ import annotations

import socket

from coalmine.api.workloads import Container
from coalmine.local.processes import PortAllocator, PortMap


def container(*ports: dict[str, object]) -> Container:
    return Container.model_validate({"name": "app", "command": ["x"], "ports": list(ports)})


def test_each_container_port_gets_its_own_free_host_port() -> None:
    allocator = PortAllocator()
    ports = PortMap.allocate(
        container({"containerPort": 8080, "name": "http"}, {"containerPort": 9090}), allocator
    )
    assert ports.host_port("http") == ports.host_port(8080) == ports.primary
    assert ports.host_port(9090) not in (None, ports.primary)
    assert ports.host_port(1234) is None and ports.host_port("metrics") is None
    for port in ports.host_ports.values():
        assert PortAllocator.is_free(port)


def test_a_port_someone_else_took_is_replaced_before_a_restart() -> None:
    allocator = PortAllocator()
    ports = PortMap.allocate(container({"containerPort": 8080}), allocator)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports.host_ports[8080]))
        squatter.listen()
        moved = ports.with_taken_ports_replaced(allocator)
    assert moved.host_ports[8080] != ports.host_ports[8080]
    unchanged = PortMap.allocate(container({"containerPort": 8080}), allocator)
    assert unchanged.with_taken_ports_replaced(allocator) == unchanged
