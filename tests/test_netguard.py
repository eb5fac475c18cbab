"""The private-address guard, as pure functions on addresses: no test connects anywhere."""

from __future__ import annotations

import pytest

from pipeline.netguard import check_url, refusal_reason, resolve

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.5.6.7", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("192.0.2.10", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fe80::1", "link-local"),
    ("ff02::1", "multicast"),
    ("::ffff:10.0.0.1", "embedding 10.0.0.1, a private"),
    ("::ffff:127.0.0.1", "embedding 127.0.0.1, a loopback"),
    ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a9fe:a9fe", "embedding 169.254.169.254"),
    ("2002:0a00:0001::1", "embedding 10.0.0.1"),
    ("2001:db8::1", "documentation"),
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = refusal_reason(address, [address], [])
    assert reason is not None
    if kind != "broadcast":
        assert kind in reason
    assert "NEWSWATCH_ALLOW_HOSTS" in reason


def test_reason_text_for_a_literal() -> None:
    assert refusal_reason("127.0.0.1", ["127.0.0.1"], []) == (
        "127.0.0.1 is a loopback address; add it to NEWSWATCH_ALLOW_HOSTS to allow it"
    )


def test_reason_names_host_and_address() -> None:
    reason = refusal_reason("intranet.example", ["192.168.0.5"], [])
    assert reason is not None
    assert reason.startswith("intranet.example resolves to 192.168.0.5, a private address")


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "196.1.2.3",
        "41.208.64.1",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "100.63.255.255",
        "100.128.0.1",
        "172.32.0.1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason("news.example", [address], []) is None


def test_every_address_must_pass() -> None:
    reason = refusal_reason("mixed.example", ["8.8.8.8", "10.1.2.3"], [])
    assert reason is not None and "10.1.2.3" in reason


def test_no_addresses_is_refused() -> None:
    assert "did not resolve" in (refusal_reason("x.example", [], []) or "")


def test_garbage_address_is_refused() -> None:
    assert "not an IP address" in (refusal_reason("x.example", ["nonsense"], []) or "")


def test_allow_by_address() -> None:
    assert refusal_reason("127.0.0.1", ["127.0.0.1"], ["127.0.0.1"]) is None
    # allowing one loopback address does not allow its neighbours
    assert refusal_reason("127.0.0.2", ["127.0.0.2"], ["127.0.0.1"]) is not None


def test_allow_by_host_name_case_insensitive() -> None:
    assert refusal_reason("Intranet.Example.", ["10.0.0.9"], ["intranet.example"]) is None
    assert refusal_reason("other.example", ["10.0.0.9"], ["intranet.example"]) is not None


def test_allow_by_cidr() -> None:
    allow = ["127.0.0.0/29", " 10.8.0.0/16 "]
    assert refusal_reason("127.0.0.5", ["127.0.0.5"], allow) is None
    assert refusal_reason("127.0.0.9", ["127.0.0.9"], allow) is not None
    assert refusal_reason("vpn.example", ["10.8.3.4"], allow) is None


def test_allowed_v4_covers_its_mapped_v6_form() -> None:
    assert refusal_reason("x", ["::ffff:127.0.0.1"], ["127.0.0.1"]) is None


def test_allow_ipv6_bracketed() -> None:
    assert refusal_reason("::1", ["::1"], ["[::1]"]) is None


def test_resolve_literal_needs_no_lookup() -> None:
    assert resolve("10.0.0.1") == ["10.0.0.1"]
    assert resolve("[::1]") == ["::1"]


def test_resolve_localhost() -> None:
    assert any(a in ("127.0.0.1", "::1") for a in resolve("localhost"))


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://127.0.0.1/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("127.0.0.1/x", "no scheme"),
        ("http:///nohost", "has no host"),
        ("http://127.0.0.1:99999/", "not a valid URL"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:10.0.0.1]/", "embedding 10.0.0.1"),
        ("http://0.0.0.0:8080/", "unspecified"),
    ],
)
def test_check_url_refusals(url: str, fragment: str) -> None:
    reason = check_url(url, ["127.0.0.1"])
    assert reason is not None and fragment in reason


def test_check_url_allowed() -> None:
    assert check_url("http://127.0.0.1:8000/feed.xml", ["127.0.0.1"]) is None
    assert check_url("https://8.8.8.8/", []) is None
    assert check_url("http://localhost/", ["localhost"]) is None


def test_check_url_localhost_refused_unless_allowed() -> None:
    assert "loopback" in (check_url("http://localhost/", []) or "")


def _fake_dns(table: dict[str, list[str]]):
    def resolver(host: str) -> list[str]:
        if host not in table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return table[host]

    return resolver


def test_check_url_uses_resolved_addresses() -> None:
    dns = _fake_dns({"news.example": ["8.8.4.4"], "evil.example": ["8.8.4.4", "10.0.0.1"]})
    assert check_url("https://news.example/a", [], resolver=dns) is None
    reason = check_url("https://evil.example/a", [], resolver=dns)
    assert reason == (
        "evil.example resolves to 10.0.0.1, a private address; "
        "add evil.example or 10.0.0.1 to NEWSWATCH_ALLOW_HOSTS to allow it"
    )


def test_check_url_unresolvable_name() -> None:
    reason = check_url("http://nowhere.example/", [], resolver=_fake_dns({}))
    assert reason is not None and "nowhere.example does not resolve" in reason


def test_check_url_allowed_name_is_not_resolved() -> None:
    assert check_url("http://intranet.example/", ["intranet.example"], _fake_dns({})) is None
