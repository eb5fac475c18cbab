"""Body decoding, side by side: httpx's own decoders vs the bounded BodyDecoder.

The fetcher reads raw bytes and undoes Content-Encoding itself
(:class:`pipeline.decode.BodyDecoder`) so the size cap holds while
decoding. This measures what that costs on the common path: pages of the
benchmark's size, identity and gzip, fed in 64 KiB network-sized chunks.
Prints one line per case and a line of JSON. No timing is asserted.

    .venv/bin/python -m benchmarks.decode_bench [--pages 2000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Callable

from httpx._decoders import GZipDecoder, IdentityDecoder

from pipeline.decode import BodyDecoder

CHUNK = 64 * 1024
CAP = 5_000_000


def page(i: int) -> bytes:
    words = " ".join(f"word{j % 997} Sirte Tripoli report {i}" for j in range(2500))
    return f"<html><body><article><p>{words}</p></article></body></html>".encode()


def chunks(body: bytes) -> list[bytes]:
    return [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


def with_httpx(parts: list[bytes], coding: str | None) -> int:
    dec = GZipDecoder() if coding == "gzip" else IdentityDecoder()
    total = sum(len(dec.decode(p)) for p in parts) + len(dec.flush())
    return total


def with_bounded(parts: list[bytes], coding: str | None) -> int:
    dec = BodyDecoder(coding, CAP)
    total = sum(len(x) for p in parts for x in dec.feed(p))
    return total + sum(len(x) for x in dec.finish())


def measure(fn: Callable[[list[bytes], str | None], int], bodies: list[list[bytes]], coding):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    n = sum(fn(parts, coding) for parts in bodies)
    return time.perf_counter() - t0, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    raw = [page(i) for i in range(args.pages)]
    size = sum(map(len, raw)) / len(raw)
    result: dict[str, float] = {"pages": args.pages, "page_kib": round(size / 1024, 1)}
    for coding in (None, "gzip"):
        bodies = [chunks(gzip.compress(b, 6) if coding else b) for b in raw]
        for name, fn in (("httpx", with_httpx), ("bounded", with_bounded)):
            fn(bodies[0], coding)  # warm up
            seconds, n = measure(fn, bodies, coding)
            per_page = seconds / args.pages * 1e6
            key = f"{coding or 'identity'}_{name}_us_per_page"
            result[key] = round(per_page, 1)
            rate = n / seconds / 2**20
            label = coding or "identity"
            print(f"{label:8} {name:8} {per_page:8.1f} µs/page  ({rate:7.1f} MiB/s)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
