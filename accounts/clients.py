"""Who a request comes from: the one place that reads forwarded headers.

``X-Forwarded-For`` is believed only when the request's peer (``REMOTE_ADDR``) is one of
``settings.TRUSTED_PROXIES`` (addresses or networks, from the ``TRUSTED_PROXIES``
variable; none by default). Every proxy appends the address it saw, so the client is
the right-most entry that is not one of our proxies; what a client wrote into the
header itself stays to the left of it and is never used. The DRF throttles and the
login lockout (django-axes) count by this address.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from rest_framework import throttling

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy) for proxy in proxies)


def _address(text: str) -> Address | None:
    """The address in an X-Forwarded-For entry (``ip``, ``ip:port`` or ``[ipv6]:port``)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address | None, networks) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(request) -> str:
    """The client's IP address for ``request`` (a Django or DRF request)."""
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(_address(remote), networks):
        return remote
    entries = [e for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
    addresses = [_address(entry) for entry in entries]
    if not addresses or None in addresses:
        return remote
    for address in reversed(addresses):
        if not _trusted(address, networks):
            return str(address)
    return str(addresses[0])  # only our own proxies: the first of them asked


class ClientAddressThrottle(throttling.BaseThrottle):
    """Counts anonymous requests by :func:`client_address` instead of DRF's XFF guess."""

    def get_ident(self, request) -> str:
        return client_address(request)


class ScopedRateThrottle(ClientAddressThrottle, throttling.ScopedRateThrottle):
    pass


class UserRateThrottle(ClientAddressThrottle, throttling.UserRateThrottle):
    pass
