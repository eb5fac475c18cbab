"""The private-address guard (SSRF): decide whether a URL may be fetched.

Feed entries and redirects come from the outside world. Without a guard, a
hostile feed could make the pipeline request ``http://169.254.169.254/`` (cloud
metadata), a router's admin page or a service on localhost. So every URL,
and every redirect hop, is checked *before* any connection: its host is
resolved and each address must be public, unless the host name or the
address is allow-listed (``NEWSWATCH_ALLOW_HOSTS``; the demo and the tests
allow 127.0.0.1).

The decision itself, :func:`refusal_reason`, is a pure function of the host,
its addresses and the allow-list, so it is tested without any network.

Known limit: the address is checked at resolution time; a DNS answer that
changes between this check and the connection (DNS rebinding) is not caught.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 embedded in the last 32 bits
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
_BENCHMARKING = (ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:2::/48"))


def _classify(addr: IPAddress) -> str | None:
    """The kind of non-public address ``addr`` is, or None if it is public."""
    if addr.version == 6:
        assert isinstance(addr, ipaddress.IPv6Address)
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            inner = _classify(embedded)
            if inner is not None:
                return f"IPv6 address embedding {embedded}, a {inner}"
            return None
        if addr.teredo is not None:
            return "Teredo tunnel (reserved)"
    if addr.is_unspecified or (addr.version == 4 and addr in _THIS_NETWORK):
        return "unspecified ('this network')"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.version == 4 and addr in _SHARED:
        return "shared (carrier-grade NAT)"
    if any(addr in net for net in _DOCUMENTATION if net.version == addr.version):
        return "documentation-only"
    if any(addr in net for net in _BENCHMARKING if net.version == addr.version):
        return "benchmarking"
    if addr.version == 6 and addr in ipaddress.ip_network("fc00::/7"):
        return "private (unique local)"
    if addr.is_reserved:
        return "reserved"
    if addr.is_private:
        return "private"
    if not addr.is_global:
        return "special-purpose (not public)"
    return None


def _clean_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None


def _parse_allow(allow_hosts: list[str]) -> tuple[set[str], list[IPNetwork]]:
    """Split allow-list entries into host names and address networks (an address is a /32)."""
    names: set[str] = set()
    nets: list[IPNetwork] = []
    for entry in allow_hosts:
        item = _clean_host(entry)
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item)
    return names, nets


def _allowed(addr: IPAddress, nets: list[IPNetwork]) -> bool:
    candidates: list[IPAddress] = [addr]
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        candidates.append(addr.ipv4_mapped)
    return any(c in net for c in candidates for net in nets if net.version == c.version)


def refusal_reason(host: str, addresses: list[str], allow_hosts: list[str]) -> str | None:
    """None if ``host`` (resolving to ``addresses``) may be fetched, else why not.

    Every address must pass: a name that resolves to one public and one
    private address is refused, since the connection may use either.
    """
    names, nets = _parse_allow(allow_hosts)
    clean = _clean_host(host)
    if clean in names:
        return None
    if not addresses:
        return f"{host} did not resolve to any address"
    for text in addresses:
        addr = _parse_address(text)
        if addr is None:
            return f"{host} resolved to {text!r}, which is not an IP address"
        if _allowed(addr, nets):
            continue
        kind = _classify(addr)
        if kind is None:
            continue
        if _parse_address(clean) == addr:
            return f"{addr} is a {kind} address; add it to NEWSWATCH_ALLOW_HOSTS to allow it"
        return (
            f"{host} resolves to {addr}, a {kind} address; "
            f"add {host} or {addr} to NEWSWATCH_ALLOW_HOSTS to allow it"
        )
    return None


def resolve(host: str) -> list[str]:
    """All addresses ``host`` resolves to (an IP literal resolves to itself, no lookup).

    Raises OSError when the name does not resolve.
    """
    literal = _parse_address(_clean_host(host))
    if literal is not None:
        return [str(literal)]
    infos = socket.getaddrinfo(_clean_host(host), None, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if address not in seen:
            seen.append(address)
    return seen


def check_url(
    url: str, allow_hosts: list[str], resolver: Callable[[str], list[str]] = resolve
) -> str | None:
    """None if ``url`` may be fetched, else a sentence saying why not (no connection made).

    ``resolver`` is swappable so tests can check name handling without DNS traffic.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "no scheme"
        return f"{url!r} uses {shown}; only http and https URLs are fetched"
    if not host:
        return f"{url!r} has no host"
    names, _nets = _parse_allow(allow_hosts)
    if _clean_host(host) in names:
        return None
    try:
        addresses = resolver(host)
    except (OSError, UnicodeError) as exc:
        return f"{host} does not resolve ({exc})"
    return refusal_reason(host, addresses, allow_hosts)
