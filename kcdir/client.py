"""The client's address: worked out here and nowhere else.

Sign-in throttling (django-axes, through ``AXES_CLIENT_IP_CALLABLE``), the rate limits
(``kcdir/ratelimit.py``) and the security log all ask this function, so they all count
and name the same client.

Without a proxy the client is the other end of the connection (``REMOTE_ADDR``), and an
``X-Forwarded-For`` header is whatever the client chose to send: it is ignored.

Behind proxies (``KCDIR_BEHIND_PROXY``) every connection comes from the nearest proxy.
Each proxy appends the address it was connected from to ``X-Forwarded-For``, so with
``KCDIR_PROXY_COUNT`` proxies the client is that many entries from the right: the one
the outermost trusted proxy wrote. Entries further left came from the client and are
never read.
"""

import ipaddress

from django.conf import settings


def client_address(request) -> str | None:
    """The address of whoever sent ``request`` (None only if the server gave none)."""
    remote_addr = request.META.get("REMOTE_ADDR") or None
    proxies = settings.KCDIR_PROXY_COUNT if settings.KCDIR_BEHIND_PROXY else 0
    if not proxies:
        return remote_addr
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(hops) < proxies:
        # Not through every proxy (or no header at all): only the connection is known.
        return remote_addr
    return _address(hops[-proxies]) or remote_addr


def _address(hop: str) -> str | None:
    """``hop`` as a plain IP address, without the port some proxies add
    (``203.0.113.7:51234``, ``[2001:db8::7]:51234``); None if it is no address."""
    if hop.startswith("["):
        hop = hop[1:].partition("]")[0]
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return None
