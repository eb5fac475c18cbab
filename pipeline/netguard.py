"""The private-address guard (SSRF): decide whether a URL may be fetched.

Feed entries and redirects come from the outside world. Without a guard, a
hostile feed could make the pipeline request ``http://169.254.169.254/`` (cloud
metadata), a router's admin page or a service on localhost. So every URL,
and every redirect hop, is checked *before* any connection: its host is
resolved and each address must be public, unless the host name or the
address is allow-listed (``NEWSWATCH_ALLOW_HOSTS``; the demo and the tests
allow 127.0.0.1).

The decision itself, :func:`refusal_reason`, is a pure function of the host,
its addresses, the port and the allow-list, so it is tested without any
network. An allow-list entry may name a port (``intranet.example:8080``,
``10.0.0.5:8080``, ``[::1]:8080``): then only that port is allowed, not every
service on the address. An entry that is none of host, address, network or
one of those with a port is refused at start-up (:func:`parse_allow_entry`).

A refusal is a :class:`Refusal`: the sentence for the user, with a
``reason`` key beside it: ``refused_address`` for the guard's own refusal,
``dns_error`` when the name does not resolve at all (often transient, and
not the guard's doing).

The same guard checks alert channels that connect to a host the admin
chose (webhooks, SMTP servers), see :mod:`pipeline.alerts.channels`.

Known limit: the address is checked at resolution time; a DNS answer that
changes between this check and the connection (DNS rebinding) is not caught.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
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


DEFAULT_PORTS = {"http": 80, "https": 443}
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)


class Refusal(str):
    """Why a URL is refused: the sentence itself, plus a short ``reason`` key."""

    reason: str

    def __new__(cls, text: str, reason: str = "refused_address") -> Refusal:
        obj = super().__new__(cls, text)
        obj.reason = reason
        return obj


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One NEWSWATCH_ALLOW_HOSTS entry: a host name or a network, optionally one port."""

    text: str
    name: str | None = None
    net: IPNetwork | None = None
    port: int | None = None

    def allows_port(self, port: int | None) -> bool:
        return self.port is None or port is None or self.port == port


def _article(word: str) -> str:
    """'a' or 'an' before ``word`` (an unspecified, an IPv6, a loopback ...)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


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
                return f"IPv6 address embedding {embedded}, {_article(inner)} {inner}"
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


def parse_allow_entry(entry: str) -> AllowEntry | None:
    """One allow-list entry; None for a blank one; ValueError saying why it is unusable.

    Accepted: ``name``, ``name:port``, an address, ``address:port``,
    ``[v6]``, ``[v6]:port``, a network (``10.8.0.0/16``).
    """
    text = entry.strip()
    if not text:
        return None
    host, port = text, None
    bracketed = re.fullmatch(r"\[([^\]]+)\](?::(.*))?", text)
    if bracketed:
        host, port_text = bracketed.group(1), bracketed.group(2)
        if port_text is not None:
            port = _port(port_text, entry)
    elif text.count(":") == 1:  # name:port or v4:port (a bare v6 has several colons)
        host, port_text = text.split(":")
        port = _port(port_text, entry)
    host = _clean_host(host)
    try:
        return AllowEntry(text, net=ipaddress.ip_network(host, strict=False), port=port)
    except ValueError:
        pass
    if "/" in host or not _HOSTNAME.match(host):
        raise ValueError(
            f"{entry!r} is not a host name, an address, a network or one of those with :PORT"
        )
    return AllowEntry(text, name=host, port=port)


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


def _parse_allow(allow_hosts: list[str]) -> list[AllowEntry]:
    """The usable entries (an unusable one is skipped here; settings refuse it at start-up)."""
    out: list[AllowEntry] = []
    for entry in allow_hosts:
        try:
            parsed = parse_allow_entry(entry)
        except ValueError:
            continue
        if parsed is not None:
            out.append(parsed)
    return out


def _addr_matches(addr: IPAddress, net: IPNetwork) -> bool:
    candidates: list[IPAddress] = [addr]
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        candidates.append(addr.ipv4_mapped)
    return any(c in net for c in candidates if net.version == c.version)


def _port_note(entries: list[AllowEntry], port: int | None) -> str:
    ports = sorted({e.port for e in entries if e.port is not None})
    shown = ", ".join(str(p) for p in ports)
    return (
        f"NEWSWATCH_ALLOW_HOSTS allows it only on port{'s' if len(ports) > 1 else ''} {shown}, "
        f"not {port}"
    )


def refusal_reason(
    host: str, addresses: list[str], allow_hosts: list[str], port: int | None = None
) -> Refusal | None:
    """None if ``host`` (resolving to ``addresses``) may be reached on ``port``, else why not.

    Every address must pass: a name that resolves to one public and one
    private address is refused, since the connection may use either. An
    allow-list entry with a port allows only that port.
    """
    entries = _parse_allow(allow_hosts)
    clean = _clean_host(host)
    by_name = [e for e in entries if e.name == clean]
    if any(e.allows_port(port) for e in by_name):
        return None
    if not addresses:
        return Refusal(f"{host} did not resolve to any address", "dns_error")
    for text in addresses:
        addr = _parse_address(text)
        if addr is None:
            return Refusal(f"{host} resolved to {text!r}, which is not an IP address")
        by_addr = [e for e in entries if e.net is not None and _addr_matches(addr, e.net)]
        if any(e.allows_port(port) for e in by_addr):
            continue
        kind = _classify(addr)
        if kind is None:
            continue
        a = _article(kind)
        if by_name or by_addr:
            return Refusal(
                f"{host} resolves to {addr}, {a} {kind} address; "
                + _port_note(by_name + by_addr, port)
            )
        if _parse_address(clean) == addr:
            return Refusal(
                f"{addr} is {a} {kind} address; add it to NEWSWATCH_ALLOW_HOSTS to allow it"
            )
        return Refusal(
            f"{host} resolves to {addr}, {a} {kind} address; "
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


def check_host(
    host: str,
    port: int | None,
    allow_hosts: list[str],
    resolver: Callable[[str], list[str]] = resolve,
) -> Refusal | None:
    """None if ``host`` may be connected to on ``port``, else why not (no connection made)."""
    clean = _clean_host(host)
    if any(e.name == clean and e.allows_port(port) for e in _parse_allow(allow_hosts)):
        return None
    try:
        addresses = resolver(host)
    except (OSError, UnicodeError) as exc:
        return Refusal(f"{host} does not resolve ({exc})", "dns_error")
    return refusal_reason(host, addresses, allow_hosts, port)


def check_url(
    url: str, allow_hosts: list[str], resolver: Callable[[str], list[str]] = resolve
) -> Refusal | None:
    """None if ``url`` may be fetched, else a sentence saying why not (no connection made).

    ``resolver`` is swappable so tests can check name handling without DNS traffic.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        return Refusal(f"{url!r} is not a valid URL ({exc})")
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "no scheme"
        return Refusal(f"{url!r} uses {shown}; only http and https URLs are fetched")
    if not host:
        return Refusal(f"{url!r} has no host")
    return check_host(host, port or DEFAULT_PORTS[scheme], allow_hosts, resolver)
