import ipaddress

import pytest

from gateway.webhooks.ssrf import (
    UnsafeWebhookUrl,
    blocked_reason,
    check_url,
    pin,
    resolve_url,
    validate_url_syntax,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 wrapping 10.0.0.1
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_address_table(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.1.2/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_internal_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhookUrl) as info:
        check_url(url, allow_private=False)
    assert not info.value.permanent
    check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://user:pass@8.8.8.8/hook",
        "https://token@8.8.8.8/hook",
        "http:///nohost",
        "http://8.8.8.8:99999/",
        "https://8.8.8.8/" + "a" * 2048,
    ],
)
def test_bad_urls_are_refused_permanently_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(UnsafeWebhookUrl) as info:
        check_url(url, allow_private=True)
    assert info.value.permanent
    assert validate_url_syntax(url) == info.value.reason


def test_public_literal_is_accepted() -> None:
    check_url("https://8.8.8.8/hook?x=1", allow_private=False)
    assert validate_url_syntax("HTTPS://hooks.example.com/catch/1") is None


def test_unresolvable_host_is_a_retryable_refusal() -> None:
    with pytest.raises(UnsafeWebhookUrl) as info:
        check_url("https://does-not-exist.invalid/hook", allow_private=False)
    assert not info.value.permanent


def test_reason_never_echoes_the_url() -> None:
    reason = validate_url_syntax("ftp://user:s3cret@example.com/?token=abc")
    assert reason is not None
    assert "s3cret" not in reason
    assert "abc" not in reason


def test_pin_keeps_host_header_and_tls_name() -> None:
    resolved = resolve_url("https://localhost:8443/p?q=1", allow_private=True)
    pinned = pin(resolved)
    assert pinned.url.host == str(resolved.addresses[0])
    assert pinned.url.port == 8443
    assert pinned.url.raw_path == b"/p?q=1"
    assert pinned.headers == {"Host": "localhost:8443"}
    assert pinned.extensions == {"sni_hostname": "localhost"}


def test_pin_leaves_ip_literals_alone() -> None:
    pinned = pin(resolve_url("http://127.0.0.1:9/x", allow_private=True))
    assert str(pinned.url) == "http://127.0.0.1:9/x"
    assert pinned.headers == {}
