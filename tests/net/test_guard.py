"""The one URL guard: every SSRF host form, under each of the two switches.

Names are resolved by a stub (``STUB_DNS``), never by the network, so the
cases for "a name that resolves to loopback" are exact.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import pytest

from gateway.config import GatewayConfig, from_env
from gateway.net.guard import (
    STRICT,
    IPAddress,
    UnsafeUrl,
    UrlGuard,
    blocked_reason,
    pin,
)

STUB_DNS: dict[str, tuple[str, ...]] = {
    # Names a real resolver would answer, for the cases a switch opens.
    "localhost": ("127.0.0.1", "::1"),
    "localhost.": ("127.0.0.1",),
    "foo.localhost": ("127.0.0.1",),
    "localhost.localdomain": ("127.0.0.1",),
    "metadata": ("169.254.169.254",),
    "metadata.google.internal": ("169.254.169.254",),
    "metadata.google.internal.": ("169.254.169.254",),
    "instance-data": ("169.254.169.254",),
    # Ordinary-looking names that lead inside.
    "loopback.example.com": ("127.0.0.1",),
    "v6-loopback.example.com": ("::1",),
    "mixed.example.com": ("93.184.215.14", "127.0.0.1"),  # one bad address is enough
    "intranet.example.com": ("10.1.2.3",),
    "meta.example.com": ("169.254.169.254",),
    "mapped-meta.example.com": ("::ffff:169.254.169.254",),
    "zero.example.com": ("0.0.0.0",),
    # The public answer.
    "hooks.example.com": ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
}


def stub_resolver(host: str, port: int) -> Sequence[IPAddress]:
    addresses = STUB_DNS.get(host.lower())
    if addresses is None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return tuple(ipaddress.ip_address(a) for a in addresses)


PRIVATE, LINK_LOCAL, NEVER = "private", "link_local", "never"

# (url, the switch that opens it); NEVER: no switch does
SSRF_CASES = [
    # Loopback, every spelling
    ("http://127.0.0.1/", PRIVATE),
    ("http://127.0.0.1./h", PRIVATE),  # trailing dot
    ("http://127.0.0.1.:80/h", PRIVATE),
    ("http://127.1/", PRIVATE),  # short forms
    ("http://127.0.1/", PRIVATE),
    ("http://2130706433/", PRIVATE),  # decimal
    ("http://0x7f000001/", PRIVATE),  # hex
    ("http://0x7f.1/", PRIVATE),
    ("http://0x7f.0.0.1/", PRIVATE),
    ("http://017700000001/", PRIVATE),  # octal
    ("http://0177.1/", PRIVATE),
    ("http://127.255.255.254/", PRIVATE),
    # Not an ASCII host name (the spec's HttpUrl): refused before any reading
    ("http://127\u30020\u30020\u30021/", NEVER),  # ideographic full stops
    ("https://b\u00fccher.example/", NEVER),  # an IDN not in its xn-- form
    ("https://if.org*", NEVER),
    ("https://a_b.example/", NEVER),
    ("http://[::1]/", PRIVATE),
    ("http://[0:0:0:0:0:0:0:1]/", PRIVATE),
    ("http://[::ffff:127.0.0.1]/", PRIVATE),  # IPv4-mapped
    ("http://[::ffff:7f00:1]/", PRIVATE),
    ("http://[64:ff9b::7f00:1]/", PRIVATE),  # NAT64
    ("http://[2002:7f00:1::]/", PRIVATE),  # 6to4
    ("http://localhost/", PRIVATE),
    ("http://LOCALHOST./", PRIVATE),
    ("http://foo.localhost/", PRIVATE),
    ("http://localhost.localdomain/", PRIVATE),
    # Private and shared ranges
    ("http://10.0.0.1/", PRIVATE),
    ("http://167772161/", PRIVATE),  # 10.0.0.1, decimal
    ("http://172.16.0.1/", PRIVATE),
    ("http://192.168.1.1/", PRIVATE),
    ("http://0xc0.0xa8.1.1/", PRIVATE),
    ("http://100.64.0.1/", PRIVATE),  # CGNAT
    ("http://[fc00::1]/", PRIVATE),
    ("http://[::ffff:10.0.0.1]/", PRIVATE),
    # Link-local and cloud metadata: a switch of their own
    ("http://169.254.169.254/latest/meta-data/", LINK_LOCAL),
    ("http://169.254.169.254./latest/", LINK_LOCAL),
    ("http://2852039166/", LINK_LOCAL),  # 169.254.169.254, decimal
    ("http://0xa9fea9fe/", LINK_LOCAL),
    ("http://0xa9.0xfe.0xa9.0xfe/", LINK_LOCAL),
    ("http://169.254.43518/", LINK_LOCAL),  # short form
    ("http://[::ffff:169.254.169.254]/", LINK_LOCAL),
    ("http://[::ffff:a9fe:a9fe]/", LINK_LOCAL),
    ("http://[64:ff9b::a9fe:a9fe]/", LINK_LOCAL),
    ("http://[fe80::1]/", LINK_LOCAL),
    ("http://[fd00:ec2::254]/latest/", LINK_LOCAL),  # AWS over IPv6
    ("http://[fd20:ce::254]/", LINK_LOCAL),  # GCP over IPv6
    ("http://100.100.100.200/latest/meta-data/", LINK_LOCAL),  # Alibaba Cloud
    ("http://metadata.google.internal/computeMetadata/v1/", LINK_LOCAL),
    ("http://metadata.google.internal./", LINK_LOCAL),
    ("http://metadata/", LINK_LOCAL),
    ("http://instance-data/latest/", LINK_LOCAL),
    # Never a receiver, whatever the switches
    ("http://0.0.0.0/", NEVER),
    ("http://0/", NEVER),
    ("http://00/", NEVER),
    ("http://[::]/", NEVER),
    ("http://[::127.0.0.1]/", NEVER),  # IPv4-compatible: reserved
    ("http://224.0.0.1/", NEVER),
    ("http://[ff02::1]/", NEVER),
    ("http://240.0.0.1/", NEVER),
    ("http://255.255.255.255/", NEVER),
    # Tricks on the URL itself: refused as URLs, whatever the switches
    ("http://good@127.0.0.1/", NEVER),  # userinfo
    ("http://user:pass@169.254.169.254/", NEVER),
    ("http://good.example.com@127.0.0.1:80/", NEVER),
    ("http://127.0.0.1\\@good.example.com/", NEVER),  # parsers disagree on the host
    ("http://127.0.0.1:80\\@good.example.com/", NEVER),
    ("http://1.1.1.1 &@127.0.0.1/", NEVER),
    ("http://127.0.0.%31/", NEVER),  # percent-encoded host
    ("http://[fe80::1%25eth0]/", NEVER),  # IPv6 zone
    ("http://127.000.000.001/", NEVER),  # the client refuses it as an address
    ("http://0251.0376.0251.0376/", NEVER),
    ("file:///etc/passwd", NEVER),
    ("gopher://127.0.0.1:25/", NEVER),
    ("ftp://example.com/x", NEVER),
]
# Names only a DNS answer reveals: accepted at request time, refused at call time.
DNS_CASES = [
    ("http://loopback.example.com/", PRIVATE),
    ("http://v6-loopback.example.com/", PRIVATE),
    ("http://mixed.example.com/", PRIVATE),
    ("http://intranet.example.com:8080/", PRIVATE),
    ("http://meta.example.com/latest/", LINK_LOCAL),
    ("http://mapped-meta.example.com/", LINK_LOCAL),
    ("http://zero.example.com/", NEVER),
]
GUARDS = {
    "strict": (),
    "private": (PRIVATE,),
    "link_local": (LINK_LOCAL,),
    "both": (PRIVATE, LINK_LOCAL),
}


def make_guard(name: str) -> UrlGuard:
    opened = GUARDS[name]
    return UrlGuard(PRIVATE in opened, LINK_LOCAL in opened, resolver=stub_resolver)


def test_there_are_at_least_41_host_forms() -> None:
    assert len(SSRF_CASES) + len(DNS_CASES) >= 41


@pytest.mark.parametrize("guard_name", list(GUARDS))
@pytest.mark.parametrize(("url", "opened_by"), SSRF_CASES)
def test_every_host_form_at_request_and_call_time(
    url: str, opened_by: str, guard_name: str
) -> None:
    guard = make_guard(guard_name)
    if opened_by in GUARDS[guard_name]:
        assert guard.refusal(url) is None
        assert guard.resolve(url).addresses  # and the call may go ahead
        return
    reason = guard.refusal(url)
    assert reason is not None
    with pytest.raises(UnsafeUrl) as info:
        guard.resolve(url)
    # The same words at both moments, and final: retrying cannot change them.
    assert info.value.reason == reason
    assert info.value.permanent


@pytest.mark.parametrize("guard_name", list(GUARDS))
@pytest.mark.parametrize(("url", "opened_by"), DNS_CASES)
def test_names_are_judged_by_every_address_they_resolve_to(
    url: str, opened_by: str, guard_name: str
) -> None:
    guard = make_guard(guard_name)
    assert guard.refusal(url) is None  # no DNS at request time
    if opened_by in GUARDS[guard_name]:
        assert guard.resolve(url).addresses
        return
    with pytest.raises(UnsafeUrl, match=r"^host resolves to an? ") as info:
        guard.resolve(url)
    assert info.value.permanent


def test_a_name_that_does_not_resolve_is_the_one_retryable_refusal() -> None:
    guard = make_guard("strict")
    with pytest.raises(UnsafeUrl) as info:
        guard.resolve("https://not-yet.example.com/hook")
    assert (info.value.reason, info.value.permanent) == ("host does not resolve", False)


def test_a_public_name_resolves_to_all_its_addresses() -> None:
    resolved = make_guard("strict").resolve("HTTPS://hooks.example.com/catch/1")
    assert [str(a) for a in resolved.addresses] == list(STUB_DNS["hooks.example.com"])
    assert (resolved.scheme, resolved.port) == ("https", 443)


@pytest.mark.parametrize(
    "url",
    ["https://8.8.8.8/hook?x=1", "http://[2606:4700:4700::1111]/", "https://0.a", "http://h:8/"],
)
def test_public_addresses_and_plain_names_pass_the_request_time_check(url: str) -> None:
    assert STRICT.refusal(url) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("10.1.2.3", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),
        ("64:ff9b::a00:1", "private"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_address_table(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


def test_reason_never_echoes_the_url() -> None:
    reason = STRICT.refusal("ftp://user:s3cret@example.com/?token=abc")
    assert reason is not None
    assert "s3cret" not in reason and "abc" not in reason


def test_the_switches_come_from_the_environment() -> None:
    assert from_env({}).url_guard == UrlGuard(False, False)
    env = {"GATEWAY_ALLOW_PRIVATE_URLS": "1"}
    assert from_env(env).url_guard == UrlGuard(True, False)
    env["GATEWAY_ALLOW_LINK_LOCAL_URLS"] = "1"
    assert from_env(env).url_guard == UrlGuard(True, True)
    assert GatewayConfig().url_guard == STRICT


def test_pin_connects_to_the_checked_address_keeping_host_and_tls_name() -> None:
    resolved = make_guard("strict").resolve("https://hooks.example.com:8443/p?q=1")
    pinned = pin(resolved)
    assert pinned.url.host == "93.184.215.14"
    assert pinned.url.port == 8443
    assert pinned.url.raw_path == b"/p?q=1"
    assert pinned.headers == {"Host": "hooks.example.com:8443"}
    assert pinned.extensions == {"sni_hostname": "hooks.example.com"}


def test_pin_leaves_ip_literals_alone() -> None:
    pinned = pin(make_guard("private").resolve("http://127.0.0.1:9/x"))
    assert str(pinned.url) == "http://127.0.0.1:9/x"
    assert pinned.headers == {}


def test_pin_turns_a_legacy_literal_into_the_address_it_means() -> None:
    pinned = pin(make_guard("private").resolve("http://2130706433:9/x"))
    assert pinned.url.host == "127.0.0.1"
    assert pinned.headers == {"Host": "2130706433:9"}
