"""Refuse user-supplied URLs that point into the gateway's own network (SSRF guard).

Used for every outbound URL a caller gives us: webhook receivers and media
fetches (``gateway.net.fetch``). Two checks at two moments:

* ``validate_url_syntax`` is cheap and does no I/O: the API calls it when a
  caller registers a URL, so typos fail with a 4xx at once;
  ``literal_refusal`` adds the address rule for hosts written as addresses
  (``127.0.0.1``, ``[::1]``, ``2130706433``), still without any lookup.
* ``resolve_url`` runs at delivery time: it resolves the host and refuses the
  URL if *any* address is loopback, private, link-local, multicast, reserved,
  unspecified, CGNAT (100.64.0.0/10) or an IPv4-mapped / NAT64 form of those.
  The caller then connects to the checked address itself (see ``pin``),
  so a DNS answer that changes between the check and the connection (DNS
  rebinding) cannot redirect the request.

``allow_private`` (setting ``GATEWAY_ALLOW_PRIVATE_URLS=1``) lifts the address
rule, for tests and single-machine setups whose receivers run on 127.0.0.1; the
scheme and userinfo rules always apply.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

MAX_URL_LENGTH = 2048
_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Not flagged by ``is_private`` in every Python version.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
# NAT64 (RFC 6052) embeds an IPv4 address in the last 32 bits: judge that address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Digits, hex digits and dots only: what inet_aton may read as an IPv4 address.
_LEGACY_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")


class UnsafeUrl(ValueError):
    """A URL the gateway refuses to call; ``reason`` says why."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # Permanent: the URL itself is wrong (scheme, userinfo), retrying cannot help.
        # Otherwise the verdict depends on DNS, which may change.
        self.permanent = permanent


@dataclass(frozen=True)
class ResolvedUrl:
    """A URL whose host resolved to ``addresses``, every one of them checked."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def validate_url_syntax(url: str) -> str | None:
    """The request-time check: an error reason, or None when the URL is acceptable."""
    try:
        _parse(url)
    except UnsafeUrl as exc:
        return exc.reason
    return None


def literal_refusal(url: str, *, allow_private: bool) -> str | None:
    """The request-time check, with the address rule for hosts written as addresses.

    No DNS lookup: names are judged when the request is made. Legacy IPv4
    forms (``2130706433``, ``0x7f.1``, ``127.1``) count as addresses, because
    the system resolver turns them into one.
    """
    reason = validate_url_syntax(url)
    if reason or allow_private:
        return reason
    address = literal_address(urlsplit(url).hostname or "")
    blocked = blocked_reason(address) if address is not None else None
    return f"host is a {blocked} address" if blocked else None


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an address when it is written as one (in any form a resolver accepts)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or not _LEGACY_IPV4.fullmatch(host):
        return None
    try:
        # inet_aton parses the classic forms (decimal, octal, hex, short) without a lookup.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise ``UnsafeUrl`` unless ``url`` is safe to call right now."""
    resolve_url(url, allow_private=allow_private)


def resolve_url(url: str, *, allow_private: bool) -> ResolvedUrl:
    """Parse, resolve and check ``url``; the result is what the dispatcher connects to."""
    parts = _parse(url)
    host = parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    addresses = _resolve(host, port)
    if not allow_private:
        for address in addresses:
            reason = blocked_reason(address)
            if reason:
                raise UnsafeUrl(f"host resolves to a {reason} address")
    return ResolvedUrl(url, parts.scheme, host, port, addresses)


def blocked_reason(address: IPAddress) -> str | None:
    """Why no request may be sent to ``address``, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_reason(embedded)
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("shared (CGNAT)", address in _CGNAT),
        ("non-global", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _parse(url: str) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"URL longer than {MAX_URL_LENGTH} characters", permanent=True)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        httpx.URL(url)  # the client must accept what we accept
    except (ValueError, httpx.InvalidURL) as exc:
        raise UnsafeUrl("malformed URL", permanent=True) from exc
    if parts.scheme.lower() not in _SCHEMES:
        raise UnsafeUrl("scheme must be http or https", permanent=True)
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not allowed", permanent=True)
    if not parts.hostname:
        raise UnsafeUrl("URL has no host", permanent=True)
    return parts._replace(scheme=parts.scheme.lower())


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl("host does not resolve") from exc
    # Drop any IPv6 zone ("fe80::1%eth0") before parsing; link-local is refused anyway.
    found = (ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
    addresses = tuple(dict.fromkeys(found))
    if not addresses:
        raise UnsafeUrl("host does not resolve")
    return addresses


@dataclass(frozen=True)
class PinnedRequest:
    """Where to send a request so that it reaches one checked address and no other."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


def pin(resolved: ResolvedUrl) -> PinnedRequest:
    """Rewrite the URL to the first checked address, keeping Host and TLS name.

    Connecting to the literal address closes the DNS-rebinding window between
    ``resolve_url`` and the connection. The ``Host`` header keeps virtual hosting
    working, and the ``sni_hostname`` extension makes httpcore send SNI for, and
    verify the certificate against, the original host name. Only the first
    address is tried: a receiver whose first address is down gets a retry later.
    """
    original = httpx.URL(resolved.url)
    if _is_ip_literal(resolved.host):
        return PinnedRequest(original, {}, {})
    pinned = original.copy_with(host=str(resolved.addresses[0]))
    extensions = {"sni_hostname": original.raw_host.decode("ascii")}
    headers = {"Host": original.netloc.decode("ascii")}
    return PinnedRequest(pinned, headers, extensions if resolved.scheme == "https" else {})


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
