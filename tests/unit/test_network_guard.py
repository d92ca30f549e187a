"""The conftest guard: tests may reach loopback only (it refuses before any packet is sent)."""

from __future__ import annotations

import contextlib
import socket

import pytest
from conftest import NetworkBlocked

pytestmark = pytest.mark.network_guard_test


def test_non_loopback_connect_is_refused():
    with pytest.raises(NetworkBlocked), socket.socket() as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere


def test_name_resolution_is_refused():
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("pypi.org", 443)


def test_udp_to_elsewhere_is_refused():
    with pytest.raises(NetworkBlocked), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", ("192.0.2.1", 9))


def test_a_swallowed_attempt_is_still_recorded():
    from conftest import _BLOCKED

    with contextlib.suppress(Exception):  # code under test that hides errors...
        socket.getaddrinfo("example.org", 80)
    assert _BLOCKED == ["resolve 'example.org'"]  # ...cannot hide the attempt


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
