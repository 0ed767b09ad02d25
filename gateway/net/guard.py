"""The one rule for every URL the gateway calls on a caller's behalf (SSRF guard).

Webhook receivers (a video's ``webhook_url`` and ``/v1/webhooks``
subscriptions), ``media_urls`` and upload-from-URL all go through a
``UrlGuard``, at two moments:

* ``UrlGuard.refusal`` when the URL is given (request time, no I/O): the
  syntax rules (http or https, a host, no credentials, nothing the URL parsers
  could read two ways) and the address rule for hosts that *are* an address,
  in any form a resolver accepts (``127.0.0.1.``, ``2130706433``, ``0x7f.1``,
  ``127.1``, ``[::ffff:127.0.0.1]``), or a name with a fixed meaning
  (``localhost``, ``metadata.google.internal``). Other names are not looked
  up here: an answer now says nothing about the answer at call time.
* ``UrlGuard.resolve`` right before each call: the same rules, then the name
  is resolved and *every* address checked; the caller connects to a checked
  address (``pin``), so a DNS answer that changes in between (rebinding)
  cannot redirect the request. A refusal is permanent (retrying would only
  repeat it) except a name that does not resolve, which may be fixed later.

Address classes and the switch that opens each (``classify``):

* never: unspecified (``0.0.0.0``, ``::``), multicast, reserved; no receiver
  lives there.
* ``allow_private`` (``GATEWAY_ALLOW_PRIVATE_URLS=1``): loopback, private,
  CGNAT (100.64.0.0/10) and other non-global ranges, for tests and
  single-machine setups whose receivers run on 127.0.0.1.
* ``allow_link_local`` (``GATEWAY_ALLOW_LINK_LOCAL_URLS=1``): link-local
  (169.254.0.0/16, fe80::/10) and the cloud metadata services, which hand out
  credentials to whoever asks; a separate switch, so opening the private
  network for a self-hosted setup does not open those too.

An IPv6 address that embeds an IPv4 one (IPv4-mapped, 6to4, NAT64) is judged
by the IPv4 address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import SplitResult, urlsplit

import httpx

MAX_URL_LENGTH = 2048
_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Given a host name and a port, its addresses (raises OSError when it has none).
Resolver = Callable[[str, int], Sequence[IPAddress]]

# Not flagged by ``is_private`` in every Python version.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
# NAT64 (RFC 6052) embeds an IPv4 address in the last 32 bits: judge that address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Cloud metadata services outside 169.254.0.0/16 (which is link-local anyway):
# AWS over IPv6, GCP over IPv6, Alibaba Cloud, Oracle Cloud's legacy address.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("fd00:ec2::254", "fd20:ce::254", "100.100.100.200", "192.0.0.192")
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
# Names every resolver answers with loopback (RFC 6761, Debian's /etc/hosts).
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# Digits, hex digits and dots only: what inet_aton may read as an IPv4 address.
_LEGACY_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")
# Read differently by different URL parsers (a backslash is a slash to WHATWG
# parsers, userinfo to urllib), or not part of a URL at all.
_AMBIGUOUS = re.compile(r"[\x00-\x20\x7f\\]")


class Opens(Enum):
    """Which switch opens an address class; ``NEVER`` is opened by none."""

    NEVER = "never"
    PRIVATE = "private"
    LINK_LOCAL = "link_local"


@dataclass(frozen=True)
class Verdict:
    """Why an address (or a fixed name) is refused, and what would open it."""

    name: str
    opens: Opens


class UnsafeUrl(ValueError):
    """A URL the gateway refuses to call; ``reason`` says why."""

    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        # Only a name that does not resolve (yet) is worth retrying.
        self.permanent = permanent


@dataclass(frozen=True)
class ResolvedUrl:
    """A URL whose host resolved to ``addresses``, every one of them checked."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def classify(address: IPAddress) -> Verdict | None:
    """Why no request may be sent to ``address`` by default, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return classify(embedded)
    checks = (
        ("cloud metadata", Opens.LINK_LOCAL, address in METADATA_ADDRESSES),
        ("link-local", Opens.LINK_LOCAL, address.is_link_local),
        ("loopback", Opens.PRIVATE, address.is_loopback),  # before ::/8, reserved
        ("unspecified", Opens.NEVER, address.is_unspecified),
        ("multicast", Opens.NEVER, address.is_multicast),
        ("reserved", Opens.NEVER, address.is_reserved),
        ("private", Opens.PRIVATE, address.is_private),
        ("shared (CGNAT)", Opens.PRIVATE, address in _CGNAT),
        ("non-global", Opens.PRIVATE, not address.is_global),
    )
    return next((Verdict(name, opens) for name, opens, hit in checks if hit), None)


def blocked_reason(address: IPAddress) -> str | None:
    """The class name that refuses ``address`` with both switches off, or None."""
    verdict = classify(address)
    return verdict.name if verdict else None


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an address when it is written as one (in any form a resolver accepts)."""
    host = host.removesuffix(".")
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


def system_resolver(host: str, port: int) -> tuple[IPAddress, ...]:
    """The host's addresses from the system resolver (``getaddrinfo``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # Drop any IPv6 zone ("fe80::1%eth0") before parsing; link-local is judged anyway.
    found = (ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class UrlGuard:
    """The rules for outbound URLs under one deployment's two switches."""

    allow_private: bool = False
    allow_link_local: bool = False
    resolver: Resolver = system_resolver

    def opens(self, verdict: Verdict) -> bool:
        if verdict.opens is Opens.PRIVATE:
            return self.allow_private
        if verdict.opens is Opens.LINK_LOCAL:
            return self.allow_link_local
        return False

    def refusal(self, url: str) -> str | None:
        """The request-time check: why ``url`` is refused, or None. No DNS lookup."""
        try:
            self._check_host(_parse(url))
        except UnsafeUrl as exc:
            return exc.reason
        return None

    def resolve(self, url: str) -> ResolvedUrl:
        """The call-time check: parse, resolve and check ``url``; the result is what
        the caller connects to (through ``pin``)."""
        parts = _parse(url)
        address = self._check_host(parts)
        host = parts.hostname
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        addresses = (address,) if address is not None else self._lookup(host, port)
        for found in addresses:
            verdict = classify(found)
            if verdict and not self.opens(verdict):
                raise UnsafeUrl(f"host resolves to {_an(verdict.name)} address")
        return ResolvedUrl(url, parts.scheme, host, port, addresses)

    def _check_host(self, parts: _Parts) -> IPAddress | None:
        """Refuse a host that is a refused address or fixed name; its address if literal."""
        address = literal_address(parts.hostname)
        verdict = classify(address) if address is not None else _name_verdict(parts.hostname)
        if verdict and not self.opens(verdict):
            raise UnsafeUrl(f"host is {_an(verdict.name)} address")
        return address

    def _lookup(self, host: str, port: int) -> tuple[IPAddress, ...]:
        try:
            addresses = tuple(self.resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl("host does not resolve", permanent=False) from exc
        if not addresses:
            raise UnsafeUrl("host does not resolve", permanent=False)
        return addresses


def _an(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _name_verdict(host: str) -> Verdict | None:
    name = host.removesuffix(".")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return Verdict("loopback", Opens.PRIVATE)
    if name in METADATA_NAMES:
        return Verdict("cloud metadata", Opens.LINK_LOCAL)
    return None


@dataclass(frozen=True)
class _Parts:
    scheme: str
    hostname: str  # as the HTTP client reads it: lower case, IDNA, no brackets
    port: int | None


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


def _parse(url: str) -> _Parts:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"URL longer than {MAX_URL_LENGTH} characters")
    if _AMBIGUOUS.search(url):
        raise UnsafeUrl("URL contains a space, a backslash or a control character")
    try:
        parts: SplitResult = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        client = httpx.URL(url)  # the client must accept what we accept
    except (ValueError, httpx.InvalidURL) as exc:
        raise UnsafeUrl("malformed URL") from exc
    if parts.scheme.lower() not in _SCHEMES:
        raise UnsafeUrl("scheme must be http or https")
    if parts.username is not None or parts.password is not None or client.userinfo:
        raise UnsafeUrl("credentials in the URL are not allowed")
    if not client.host or not parts.hostname:
        raise UnsafeUrl("URL has no host")
    if "%" in client.host:
        raise UnsafeUrl("host must not contain '%'")
    if not _is_ip_literal(parts.hostname) and not _HOST_NAME.fullmatch(parts.hostname):
        # As the spec's HttpUrl says: DNS labels in ASCII (an IDN as its
        # xn-- form). A resolver may take more, but not every one takes the same.
        raise UnsafeUrl("host is not a valid host name")
    # The client's reading of the host is the one that will be connected to.
    return _Parts(parts.scheme.lower(), client.host, client.port)


@dataclass(frozen=True)
class PinnedRequest:
    """Where to send a request so that it reaches one checked address and no other."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


def pin(resolved: ResolvedUrl) -> PinnedRequest:
    """Rewrite the URL to the first checked address, keeping Host and TLS name.

    Connecting to the literal address closes the DNS-rebinding window between
    ``UrlGuard.resolve`` and the connection. The ``Host`` header keeps virtual
    hosting working, and the ``sni_hostname`` extension makes httpcore send
    SNI for, and verify the certificate against, the original host name. Only
    the first address is tried: a receiver whose first address is down gets a
    retry later.
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


STRICT = UrlGuard()
