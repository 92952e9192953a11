"""Where webhooks may point. In production, only ``https://`` URLs whose host resolves
to public addresses only: loopback, private, link-local, multicast, reserved and other
non-global addresses are refused, so an endpoint cannot make the server call into its
own network (server-side request forgery). Development allows ``http://`` and any
address, so local receivers work.

The check runs when an endpoint is registered or changed, and again at every delivery
on the connection itself (:class:`GuardedBackend`): the connection goes to the address
that was checked, so a host that resolves differently between the check and the connect
(DNS rebinding) gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx

MAX_URL_LENGTH = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL is not one the server may call; the message says why."""


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_form(url: str, *, production: bool) -> httpx.URL:
    """The parsed URL; raises UnsafeUrl when it is malformed or of a refused scheme."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise UnsafeUrl("The URL is not valid.") from error
    schemes = ("https",) if production else ("https", "http")
    if parsed.scheme not in schemes:
        raise UnsafeUrl("The URL must start with https://." if production else "Use http(s)://.")
    if not parsed.host:
        raise UnsafeUrl("The URL has no host.")
    return parsed


async def public_addresses(host: str, port: int) -> list[str]:
    """Every address the host resolves to, if all are public; raises UnsafeUrl else."""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeUrl(f"The host {host} does not resolve.") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    refused = [a for a in addresses if not is_public(ipaddress.ip_address(a.split("%")[0]))]
    if refused or not addresses:
        raise UnsafeUrl(f"The host {host} resolves to a private or reserved address.")
    return addresses


async def check(url: str, *, production: bool) -> None:
    """Raises UnsafeUrl unless the server may deliver to ``url``."""
    parsed = check_form(url, production=production)
    if production:
        await public_addresses(parsed.host, parsed.port or 443)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses, to the one that was checked (TLS still checks
    the certificate against the URL's host name, which httpcore sends as SNI)."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await public_addresses(host, port)
        except UnsafeUrl as error:
            raise httpcore.ConnectError(str(error)) from error
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(f"The host {host} did not resolve in time.") from error
        return await self._inner.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Webhooks are delivered over TCP only.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over :class:`GuardedBackend` (httpx takes no backend of its own,
    so the pool it builds is replaced by one that uses it)."""

    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=GuardedBackend()
        )


def client(*, production: bool, timeout: float) -> httpx.AsyncClient:
    """An HTTP client for deliveries: no redirects followed (a redirect is a failure),
    guarded in production."""
    return httpx.AsyncClient(
        transport=GuardedTransport() if production else None,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
