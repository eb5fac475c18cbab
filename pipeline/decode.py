"""Bytes -> text for HTML pages, before any parser sees them.

trafilatura and lxml can guess an encoding from bytes, but they guess wrong on
exactly the pages this project cares about: Arabic sites serving
windows-1256 without saying so. So every page is decoded here, once, and the
extractor only ever receives a ``str``.

The order of evidence (strongest first):

1. a byte-order mark: it cannot appear by accident, and browsers let it
   override everything else;
2. bytes that are valid UTF-8 and not plain ASCII: legacy single-byte text
   (Arabic windows-1256 above all) is practically never valid UTF-8, while
   sites that moved to UTF-8 often keep a stale ``windows-1256`` declaration
   in their templates or server configuration;
3. the ``charset`` of the HTTP ``Content-Type`` header;
4. ``<meta charset>`` or ``<meta http-equiv="Content-Type">`` in the first bytes;
5. statistical detection (charset-normalizer);
6. UTF-8 with replacement characters, so a page is never lost.

A declared charset (header or meta) is used only if the bytes decode with it
without error; otherwise the next step is tried. Together with step 2 this
means a header that says ``utf-8`` over windows-1256 bytes, or
``windows-1256`` over UTF-8 bytes, never produces mojibake.

Single-byte Latin declarations (``iso-8859-1``, ``windows-1252``, ``us-ascii``)
never fail to decode, and servers send them by default far more often than
pages are really written in them, so they are weak evidence: a non-Latin meta
charset beats them, and detection may overrule them, but only towards a
non-Latin script codepage (Arabic windows-1256 mislabelled as Latin-1).
Otherwise the weak declaration stands.
"""

from __future__ import annotations

import codecs
import re
import zlib

from charset_normalizer import from_bytes

__all__ = [
    "BodyDecoder",
    "BodyTooLarge",
    "EncodingError",
    "charset_from_content_type",
    "decode_html",
    "decode_xml",
]

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
# Both <meta charset="x"> and <meta http-equiv=... content="text/html; charset=x">.
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
# <?xml version="1.0" encoding="x"?>: a feed's own declaration, its "meta charset".
XML_DECLARATION = re.compile(
    rb"""^\s*<\?xml[^>]{0,256}?encoding\s*=\s*["']\s*([\w.:-]+)\s*["']""", re.IGNORECASE
)
META_SCAN_BYTES = 8192  # a little beyond the HTML standard's 1024: real heads are fat
DETECT_SAMPLE_BYTES = 256 * 1024  # detection on a prefix keeps huge pages cheap
_WEAK = frozenset({"latin_1", "iso8859-1", "cp1252", "ascii"})
# Codecs for scripts a weak Latin declaration can hide: detection may overrule
# the declaration only towards one of these (Arabic first of all).
_NON_LATIN = frozenset(
    {
        "cp1256",
        "iso8859-6",
        "cp720",
        "cp864",
        "cp1251",
        "koi8-r",
        "iso8859-5",
        "cp866",
        "cp1253",
        "iso8859-7",
        "cp1255",
        "iso8859-8",
    }
)


def _codec(name: str | None) -> str | None:
    """Python's codec name for a declared charset, or None if unknown."""
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    if name in {"utf-16", "utf-16le", "utf-16be"}:
        # An HTML byte stream that is readable enough to carry a meta tag is not
        # UTF-16; the HTML standard maps such declarations to UTF-8.
        name = "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, as declared (not validated)."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(body: bytes) -> tuple[str, str] | None:
    """charset-normalizer's best guess, accepted only if the whole body decodes with it."""
    best = from_bytes(body[:DETECT_SAMPLE_BYTES]).best()
    if best is None or not best.encoding:
        return None
    codec = _codec(best.encoding)
    if codec is None:
        return None
    # The sample may end inside a multi-byte character, or the rest of the page
    # may disagree: only a clean decode of the whole body counts.
    text = _strict(body, codec)
    return (text, codec) if text is not None else None


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """-> (text, encoding used): BOM, valid UTF-8, header, meta, detection, utf-8.

    Encodings are reported by their Python codec name (``utf-8``, ``cp1256``, ...).
    A leading U+FEFF never reaches the caller. See the module docstring for why
    a declared charset is not always believed.
    """
    return _decode(body, content_type, _meta_charset(body))


def decode_xml(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Like :func:`decode_html` for a feed: its XML declaration stands in for the meta tag.

    So a windows-1256 feed with no declaration at all, or one declared utf-8
    by mistake, is detected instead of being read as Latin mojibake.
    """
    return _decode(body, content_type, _xml_encoding(body))


def _decode(body: bytes, content_type: str | None, in_document: str | None) -> tuple[str, str]:
    if not body:
        return "", "utf-8"
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = _strict(body, codec)
            if text is not None:
                return text.lstrip("\ufeff"), codec.removesuffix("-sig")
            break

    if not body.isascii():
        text = _strict(body, "utf-8")
        if text is not None:
            return text.lstrip("\ufeff"), "utf-8"

    weak: str | None = None
    for declared in (charset_from_content_type(content_type), in_document):
        codec = _codec(declared)
        if codec is None:
            continue
        if codec in _WEAK:
            weak = weak or codec
            continue
        text = _strict(body, codec)
        if text is not None:
            return text.lstrip("\ufeff"), codec

    if body.isascii():
        return body.decode("ascii"), weak or "utf-8"
    detected = _detect(body)
    if detected is not None and (weak is None or detected[1] in _NON_LATIN):
        return detected[0].lstrip("\ufeff"), detected[1]
    if weak is not None:
        text = _strict(body, weak)
        if text is not None:
            return text.lstrip("\ufeff"), weak
    return body.decode("utf-8", errors="replace").lstrip("\ufeff"), "utf-8"


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:META_SCAN_BYTES])
    return match.group(1).decode("ascii", "replace") if match else None


def _xml_encoding(body: bytes) -> str | None:
    match = XML_DECLARATION.match(body[:512])
    return match.group(1).decode("ascii", "replace") if match else None


# ---------------------------------------------------------------- Content-Encoding
class EncodingError(ValueError):
    """The body cannot be decoded as its Content-Encoding says (or the coding is unknown)."""


class BodyTooLarge(ValueError):
    """Decoding would pass the byte cap (a decompression bomb, or just a huge page)."""


CHUNK_OUT = 64 * 1024  # the most one decompress call may produce: memory per step stays small
_CODINGS = frozenset({"gzip", "x-gzip", "deflate"})


class _Inflate:
    """One gzip or deflate layer, decoded incrementally with a bounded output per call.

    zlib's ``decompressobj().decompress(data, max_length)`` never returns more
    than ``max_length`` bytes and keeps the rest of the input in
    ``unconsumed_tail``; the output of this layer is counted against ``cap``
    as it is produced, so a few kilobytes that expand to gigabytes stop at
    the cap. gzip may hold several members in a row; "deflate" is
    zlib-wrapped by the standard but often raw in practice, so both are read
    (as browsers and httpx do).
    """

    def __init__(self, coding: str, cap: int) -> None:
        self.gzip = coding in ("gzip", "x-gzip")
        self.name = "gzip" if self.gzip else "deflate"
        self.cap = cap
        self.produced = 0
        self.started = False
        self.obj = zlib.decompressobj(16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS)

    def _count(self, out: bytes, pieces: list[bytes]) -> None:
        if out:
            self.produced += len(out)
            if self.produced > self.cap:
                raise BodyTooLarge(f"a {self.name} layer expands past {self.cap:,} bytes")
            pieces.append(out)

    def feed(self, data: bytes) -> list[bytes]:
        pieces: list[bytes] = []
        while True:
            if self.obj.eof:
                rest = data.lstrip(b"\0") if self.gzip else b""
                if not rest:
                    return pieces  # padding or trailing bytes after the stream: ignored
                self.obj = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next gzip member
                data = rest
            try:
                out = self.obj.decompress(data, CHUNK_OUT)
            except zlib.error as exc:
                if not self.started and not self.gzip:  # raw deflate, no zlib wrapper
                    self.started = True
                    self.obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise EncodingError(f"not valid {self.name} data ({exc})") from None
            self.started = True
            self._count(out, pieces)
            data = self.obj.unused_data if self.obj.eof else self.obj.unconsumed_tail
            # A full output buffer may leave output pending inside zlib: ask again.
            if not data and len(out) < CHUNK_OUT:
                return pieces

    def finish(self) -> list[bytes]:
        pieces: list[bytes] = []
        if not self.obj.eof and self.started:
            self._count(self.obj.flush(), pieces)
            if self.gzip and not self.obj.eof:
                raise EncodingError("the gzip stream is cut short")
        return pieces


def content_codings(header: str | None) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied."""
    if not header:
        return []
    return [c.strip().lower() for c in header.split(",") if c.strip()]


class BodyDecoder:
    """Undo every Content-Encoding layer as the bytes arrive, never passing ``cap``.

    Every layer's output is counted against ``cap`` as it is produced, so a
    few kilobytes sent as ``Content-Encoding: gzip, gzip`` (or gzip ten
    times over) stop at ``cap`` bytes with :class:`BodyTooLarge`, whatever
    the layering. Memory stays within a few times ``cap``. An unknown coding
    (br, zstd, compress ...) raises :class:`EncodingError`: the fetcher only
    asks for gzip and deflate.
    """

    def __init__(self, header: str | None, cap: int) -> None:
        codings = [c for c in content_codings(header) if c != "identity"]
        unknown = [c for c in codings if c not in _CODINGS]
        if unknown:
            raise EncodingError(f"unsupported Content-Encoding {', '.join(unknown)!r}")
        # Decoding undoes the layers in the reverse order of their application.
        self.layers = [_Inflate(c, cap) for c in reversed(codings)]
        self.cap = cap
        self.total = 0

    def _pass(self, start: int, pieces: list[bytes]) -> list[bytes]:
        for layer in self.layers[start:]:
            pieces = [out for piece in pieces for out in layer.feed(piece)]
        for piece in pieces:
            self.total += len(piece)
        if self.total > self.cap:
            raise BodyTooLarge(f"the decoded body passes {self.cap:,} bytes")
        return pieces

    def feed(self, data: bytes) -> list[bytes]:
        """Decoded bytes of one raw chunk; raises BodyTooLarge past the cap."""
        if not self.layers:
            self.total += len(data)
            if self.total > self.cap:
                raise BodyTooLarge(f"the body passes {self.cap:,} bytes")
            return [data]
        return self._pass(0, [data])

    def finish(self) -> list[bytes]:
        """Flush every layer at the end of the body (raises on a cut-short gzip)."""
        out: list[bytes] = []
        for index, layer in enumerate(self.layers):
            out.extend(self._pass(index + 1, layer.finish()))
        return out
