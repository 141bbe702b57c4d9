"""The client address every throttle and lockout counts by: forwarded headers are
believed only from the proxies in ``TRUSTED_PROXIES``."""

import pytest
from django.test import RequestFactory

from accounts.clients import client_address

CLIENT = "203.0.113.7"


def address(remote, forwarded=None, **extra):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=remote, **headers, **extra))


def test_with_no_trusted_proxy_the_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert address("198.51.100.1", "1.2.3.4") == "198.51.100.1"
    assert address("127.0.0.1", "1.2.3.4") == "127.0.0.1"


@pytest.mark.parametrize(
    "remote, forwarded, expected",
    [
        ("10.0.0.5", CLIENT, CLIENT),
        # what the client wrote itself comes first; the proxy appends what it saw
        ("10.0.0.5", f"6.6.6.6, {CLIENT}", CLIENT),
        ("10.0.0.5", f"6.6.6.6, {CLIENT}, 10.1.2.3", CLIENT),
        ("10.0.0.5", f"{CLIENT}:4711", CLIENT),
        ("10.0.0.5", "[2001:db8::1]:443", "2001:db8::1"),
        ("10.0.0.5", "2001:db8::2", "2001:db8::2"),
        # a request from outside the proxies: its header is the client's own words
        ("198.51.100.1", CLIENT, "198.51.100.1"),
        # no header, an empty one, or one that names no address: the proxy itself
        ("10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "", "10.0.0.5"),
        ("10.0.0.5", f"{CLIENT}, not-an-address", "10.0.0.5"),
        # a chain of trusted proxies only: the first one
        ("10.0.0.5", "10.9.9.9, 10.0.0.6", "10.9.9.9"),
    ],
)
def test_behind_trusted_proxies_the_right_most_untrusted_entry_is_the_client(
    settings, remote, forwarded, expected
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1"]
    assert address(remote, forwarded) == expected


def test_single_proxy_addresses_and_ipv6_networks(settings):
    settings.TRUSTED_PROXIES = ["192.0.2.1", "2001:db8:ffff::/48"]
    assert address("192.0.2.1", CLIENT) == CLIENT
    assert address("192.0.2.2", CLIENT) == "192.0.2.2"
    assert address("2001:db8:ffff::9", CLIENT) == CLIENT
