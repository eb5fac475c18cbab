"""Channels: hand one message to apprise (email, Slack, Telegram, webhooks, ...) or a file.

Each send carries the message's delivery ids, the receivers' key for
dropping repeats after a crash: an ``X-Newswatch-Delivery-Id`` header on
email and HTTP webhooks, and ``delivery_id`` in the JSON payload of
``json://`` webhooks. The file channel checks its own file for the id before
appending, so it never holds a delivery twice.

apprise is asked for one service at a time (``Apprise.instantiate``), so the
outcome of each channel is known separately; its log lines are captured and
become the delivery's ``last_error``. Persistent storage is kept in memory:
the outbox is our record of what was sent.

An admin key (or alerts.yaml) decides where alerts go, so channels are
guarded like fetched URLs (:func:`channel_problem`), when a rule is saved
and again right before each send (a variable or DNS answer may have changed):

- a ``file://`` channel must stay inside the alert files folder
  (``NEWSWATCH_ALERT_FILES_DIR``, default the data dir): no absolute path
  elsewhere, no ``../`` out of it, no symlink out of it;
- a channel whose host the admin chooses (webhooks ``json://``,
  ``form://``, ``xml://``, SMTP servers, self-hosted services) goes through
  the same private-address guard as fetching, with its allow-list: a
  loopback, private or link-local address is refused before any connection.
  Hosted services (Slack, Telegram, ...) always connect to their own public
  endpoints, so their URLs hold tokens, not hosts.
"""

from __future__ import annotations

import fcntl
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from pipeline.alerts.messages import Message
from pipeline.config import Settings, load_settings
from pipeline.netguard import check_host

HEADER = "X-Newswatch-Delivery-Id"
_HEADER_SCHEMES = ("mailto", "mailtos", "json", "jsons", "form", "forms", "xml", "xmls")
_PAYLOAD_SCHEMES = ("json", "jsons")
# Services whose host is the admin's choice: each is checked by the address guard.
GUARDED_SCHEMES = frozenset(
    f"{base}{tls}"
    for base in (
        "json", "form", "xml", "mailto", "gotify", "matrix", "mmost", "rocket", "apprise",
        "ncloud", "nctalk", "kodi", "xbmc", "mqtt",
    )
    for tls in ("", "s")
)  # fmt: skip


@dataclass(slots=True)
class SendResult:
    ok: bool
    error: str = ""


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def with_delivery_ids(url: str, ids: list[str]) -> str:
    """The channel URL plus the delivery ids where apprise can carry them."""
    scheme = scheme_of(url)
    value = quote(",".join(ids), safe=",")
    extra = []
    if scheme in _HEADER_SCHEMES:
        extra.append(f"+{HEADER}={value}")
    if scheme in _PAYLOAD_SCHEMES:
        extra.append(f":delivery_id={value}")
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(extra)


def file_path(channel: str, data_dir: Path) -> Path:
    """``file:///abs/path`` or ``file://relative/path`` (relative to the data dir)."""
    raw = channel.removeprefix("file://")
    path = Path(raw)
    return path if path.is_absolute() else data_dir / path


def files_root(settings: Settings) -> Path:
    """The folder file channels may write in."""
    return settings.alert_files_dir or settings.data_dir


def file_problem(channel: str, root: Path) -> str | None:
    """None if the file channel's path stays inside ``root`` (after ``..`` and symlinks)."""
    root = Path(root)
    target = file_path(channel, root)
    base = root.resolve()
    if not target.resolve().is_relative_to(base):
        return (
            f"a file channel must write inside {base} (NEWSWATCH_ALERT_FILES_DIR); "
            f"{target} is outside it"
        )
    return None


def network_problem(
    channel: str, allow_hosts: list[str], unresolved_ok: bool = False
) -> str | None:
    """None if the channel's host passes the address guard (no connection is made).

    ``unresolved_ok``: a name that does not resolve now is let through (saving
    a rule); the check right before a send refuses it.
    """
    if scheme_of(channel) not in GUARDED_SCHEMES:
        return None
    import apprise

    plugin = apprise.Apprise.instantiate(channel)
    if plugin is None:
        return None  # apprise refuses it anyway, with its own message
    host = getattr(plugin, "smtp_host", None) or getattr(plugin, "host", None)
    if not host:
        return None
    port = getattr(plugin, "port", None) or (443 if getattr(plugin, "secure", False) else 80)
    refusal = check_host(str(host), int(port), allow_hosts)
    if refusal is None or (unresolved_ok and refusal.reason == "dns_error"):
        return None
    return str(refusal)


def channel_problem(channel: str, settings: Settings) -> str | None:
    """Why ``channel`` may not be saved in a rule, or None: see the module docstring."""
    if channel.startswith("file://"):
        return file_problem(channel, files_root(settings))
    return network_problem(channel, settings.allow_hosts, unresolved_ok=True)


def send_file(path: Path, message: Message, maybe_sent: bool) -> SendResult:
    """Append one JSON line per message; skip it if an earlier attempt already wrote it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            if maybe_sent:
                fh.seek(0)
                wanted = set(message.delivery_ids)
                for line in fh:
                    try:
                        seen = set(json.loads(line).get("delivery_ids", []))
                    except ValueError:
                        continue
                    if wanted <= seen:
                        return SendResult(True)
            record = {
                "delivery_ids": message.delivery_ids,
                "written_at": datetime.now(UTC).isoformat(),
                "title": message.title,
                "text": message.text,
                "alerts": [
                    {
                        "delivery_id": i.delivery_id,
                        "title": i.title,
                        "url": i.url,
                        "source": i.source,
                        "story_id": i.story_id,
                        "article_id": i.article_id,
                        "events": i.events,
                        "more_reports": i.more_reports,
                    }
                    for i in message.items
                ],
            }
            fh.seek(0, 2)
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
        return SendResult(True)
    except OSError as exc:
        return SendResult(False, f"file channel {path}: {exc}")


def send_apprise(url: str, message: Message, timeout: float = 20.0) -> SendResult:
    """One apprise service, one message; HTML where the service prefers it."""
    import apprise

    asset = apprise.AppriseAsset(storage_mode="memory", async_mode=False)
    plugin = apprise.Apprise.instantiate(with_delivery_ids(url, message.delivery_ids), asset=asset)
    if plugin is None:
        return SendResult(False, f"{scheme_of(url)}://...: apprise cannot use this URL")
    if hasattr(plugin, "socket_connect_timeout"):
        plugin.socket_connect_timeout = timeout
    preferred = plugin.notify_format
    if isinstance(preferred, tuple | list):
        preferred = preferred[0]
    as_html = str(getattr(preferred, "value", preferred)) == "html"
    with apprise.LogCapture(level=apprise.logging.WARNING) as logs:
        try:
            ok = plugin.notify(
                body=message.html if as_html else message.text,
                title=message.title,
                body_format=apprise.NotifyFormat.HTML if as_html else apprise.NotifyFormat.TEXT,
            )
        except Exception as exc:  # a plugin bug is a failed send, not a crashed run
            return SendResult(False, f"{type(exc).__name__}: {exc}")
    if ok:
        return SendResult(True)
    lines = [ln.split(" - ", 2)[-1].strip() for ln in logs.getvalue().splitlines() if ln.strip()]
    return SendResult(False, "; ".join(lines[-3:]) or "apprise reported a failed send")


def send(
    channel: str, message: Message, data_dir: Path, maybe_sent: bool = False, timeout: float = 20.0
) -> SendResult:
    """Send ``message`` on an expanded channel URL, after the channel guard.

    The guard reads the process's settings (the allow-list, the alert files
    folder); a refused channel is a failed send with the reason, and no
    connection or file is opened.
    """
    settings = load_settings()
    root = Path(settings.alert_files_dir or data_dir)
    if channel.startswith("file://"):
        problem = file_problem(channel, root)
        if problem is not None:
            return SendResult(False, f"refused channel: {problem}")
        return send_file(file_path(channel, root), message, maybe_sent)
    problem = network_problem(channel, settings.allow_hosts)
    if problem is not None:
        return SendResult(False, f"refused channel {scheme_of(channel)}://...: {problem}")
    return send_apprise(channel, message, timeout)
