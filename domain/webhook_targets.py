"""Which URLs a webhook may call: a guard against server-side request forgery (SSRF).

A webhook URL must be ``http`` or ``https``, name a host, carry no user:password, and every
address its host resolves to must be public (:attr:`ipaddress.IPv4Address.is_global`): no
loopback, private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254),
shared (100.64/10), multicast, reserved or unspecified address — unless the deployment allows
private targets (``FLEXLEDGER_WEBHOOK_ALLOW_PRIVATE=true``, e.g. receivers on 127.0.0.1 in
tests or on a closed control network). The check runs at registration and again before each
delivery (a host's addresses may change). The resolver is passed in: this module does no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

Resolve = Callable[[str, int], list[str]]
"""(host, port) -> the addresses it resolves to; raises ``OSError`` when it does not resolve."""
MAX_URL_LENGTH = 2048


class TargetRefused(ValueError):
    """A webhook URL this platform will not call; ``code`` is stable, ``field`` is ``url``."""

    code, field = "WEBHOOK_URL_REFUSED", "url"


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _host_and_port(url: str) -> tuple[str, int]:
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs are allowed")
    if not parts.hostname:
        raise TargetRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not carry a user name or password")
    try:
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused("the URL's port is invalid") from exc


def check_target(url: str, resolve: Resolve, allow_private: bool = False) -> None:
    """Raise :class:`TargetRefused` unless ``url`` may be called (see the module docstring)."""
    host, port = _host_and_port(url)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"the host {host!r} does not resolve") from exc
    if not addresses:
        raise TargetRefused(f"the host {host!r} does not resolve")
    if allow_private:
        return
    for address in addresses:
        if not _public(address):
            raise TargetRefused(
                f"the host {host!r} resolves to {address}, a loopback, private, link-local or reserved"
                " address (set FLEXLEDGER_WEBHOOK_ALLOW_PRIVATE=true to allow such targets)"
            )
