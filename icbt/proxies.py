"""Which peers may speak for the client: the TLS proxies named in DJANGO_TRUSTED_PROXIES."""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]):
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def is_trusted_proxy(address: str) -> bool:
    """True when ``address`` (a request's REMOTE_ADDR) is one of our own proxies, whose
    X-Forwarded-* headers may therefore be believed."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.ICBT_TRUSTED_PROXIES)))
