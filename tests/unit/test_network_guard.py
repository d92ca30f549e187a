"""The conftest guard: tests may reach loopback only (it refuses before any packet is sent)."""

from __future__ import annotations

import socket

import pytest
from conftest import NetworkBlocked


def test_non_loopback_connect_is_refused():
    with pytest.raises(NetworkBlocked), socket.socket() as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere


def test_name_resolution_is_refused():
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("pypi.org", 443)


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
