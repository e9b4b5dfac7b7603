"""Single sign-on from a trusted reverse proxy (``[serve] sso_header``, ``sso_proxies``): a site
that authenticates its staff against Active Directory (Apache ``mod_auth_gssapi``, nginx with
SPNEGO, ...) has the proxy put the authenticated name in one header. The console believes that
header only when the TCP peer of the request is one of the configured proxy addresses; from
anyone else it is ignored (and logged). The name must be an existing, enabled console account:
an unknown name is refused, never created (the role comes from ``gateway user add``).

The peer is the address the connection came from, not the one ``X-Forwarded-For`` names:
uvicorn rewrites the request's client from that header (from 127.0.0.1), so the service keeps
the connection's own address in the scope first (``with_peer``)."""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the configuration checks import this module: no web framework loaded for them
    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)
PEER = "gateway.peer"  # the scope's key for the connection's own address
TOKEN_CHARACTERS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# headers whose meaning is fixed elsewhere: naming one of them would let a client or the proxy's
# own plumbing log someone in
RESERVED = frozenset({"authorization", "cookie", "host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                      "forwarded", "x-csrf-token", "content-type", "content-length", "transfer-encoding", "connection"})
MAX_HEADER = 64

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def check_header(name: str) -> str:
    """A header name as configured: an HTTP token of at most 64 characters, not a reserved one; lower case."""
    if not name or len(name) > MAX_HEADER or not set(name) <= TOKEN_CHARACTERS:
        raise ValueError(f"must be an HTTP header name (letters, digits, '-'), not {name!r}")
    if name.lower() in RESERVED:
        raise ValueError(f"may not be {name}: that header means something else")
    return name.lower()


def parse_proxies(value: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDRs; ValueError naming the first that is none."""
    networks = []
    for item in value.split(","):
        if not item.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=True))
        except ValueError:
            raise ValueError(f"must be comma-separated addresses or CIDRs, not {item.strip()!r}") from None
    return tuple(networks)


class PeerAddress:
    """Keeps the connection's own address (``scope["client"]`` as the server made it) under ``PEER``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope[PEER] = client[0] if client else ""
        await self.app(scope, receive, send)


def with_peer(app: ASGIApp) -> ASGIApp:
    """``app`` as uvicorn would run it with its proxy headers on (``X-Forwarded-For`` and
    ``-Proto`` believed from ``FORWARDED_ALLOW_IPS``, default 127.0.0.1), the connection's own
    address kept first. Run it with ``proxy_headers=False``."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    trusted = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    return PeerAddress(ProxyHeadersMiddleware(app, trusted_hosts=trusted))  # type: ignore[arg-type]


def peer(request: Request) -> str:
    """The address the request's connection came from."""
    kept = request.scope.get(PEER)
    if isinstance(kept, str):
        return kept
    return request.client.host if request.client else ""


@dataclass(frozen=True)
class SingleSignOn:
    header: str  # lower case; empty: off
    proxies: tuple[Network, ...]

    @classmethod
    def of(cls, header: str, proxies: str) -> SingleSignOn:
        return cls(check_header(header) if header else "", parse_proxies(proxies))

    @property
    def on(self) -> bool:
        return bool(self.header and self.proxies)

    def trusted(self, address: str) -> bool:
        try:
            found = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped:
            found = found.ipv4_mapped
        return any(found in network for network in self.proxies)

    def user(self, request: Request, *, report: bool = False) -> str | None:
        """The name the proxy vouches for: None when SSO is off, the header is absent, or the request
        did not come from a configured proxy (``report``: logged); "" when it came from a proxy but
        cannot be read (given twice, not UTF-8, empty)."""
        if not self.on:
            return None
        values = request.headers.getlist(self.header)
        if not values:
            return None
        address = peer(request)
        if not self.trusted(address):
            if report:
                log.warning("single sign-on header %s from %s ignored: not a configured proxy", self.header,
                            address or "an unknown address")
            return None
        if len(values) != 1:
            return ""
        try:
            return values[0].encode("latin-1").decode("utf-8").strip()  # a proxy sends the name's UTF-8 bytes
        except (UnicodeEncodeError, UnicodeDecodeError):
            return ""
