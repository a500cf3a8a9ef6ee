#!/usr/bin/env python3
"""The Python peers of `careledger bench hl7`: parse the same HL7 v2 messages with python-hl7 or hl7apy.

Usage: hl7_bench_peer.py --library hl7|hl7apy [--rounds N] FILE...

Each FILE holds one message. Its bytes are read and prepared once, before any timing: a UTF-8 byte order mark and
MLLP framing bytes are stripped, the text is decoded (UTF-8, else ISO 8859-1), and segment separators (CR, LF,
CRLF, blank lines) become a single CR, which both libraries require. Then every message is parsed, --rounds times,
timed with time.perf_counter inside this process (interpreter start and imports excluded); the median round is
reported. Parsing only, nothing else:

  hl7     hl7.parse(text)                                              (python-hl7)
  hl7apy  hl7apy.parser.parse_message(text, VALIDATION_LEVEL.TOLERANT)  (groups found, as by default)

A message the library refuses (an exception) is counted, not retried; `parsed` says how many were accepted.
Prints one JSON object: {"library", "version", "messages", "parsed", "seconds", "msgs_per_s", "rounds"}.
Exit 3 (and a JSON object with "error") when the library is not installed.

Install the peers (versions that install and were measured here, Python 3.11):
  pip install hl7==0.4.5 hl7apy==1.3.5
"""

import argparse
import json
import statistics
import sys
import time


def prepare(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    raw = raw.replace(b"\x0b", b"").replace(b"\x1c", b"")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    segments = [s for s in text.split("\r") if s.strip()]
    return "\r".join(segments) + "\r"


def load_parser(library: str):
    if library == "hl7":
        import hl7

        version = getattr(hl7, "__version__", None)
        if version is None:
            from importlib.metadata import version as v

            version = v("hl7")
        return hl7.parse, version
    import hl7apy
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message

    version = getattr(hl7apy, "__version__", None)
    if version is None:
        from importlib.metadata import version as v

        version = v("hl7apy")

    def parse(text):
        return parse_message(text, validation_level=VALIDATION_LEVEL.TOLERANT)

    return parse, version


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", choices=["hl7", "hl7apy"], required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    try:
        parse, version = load_parser(args.library)
    except ImportError as e:
        print(json.dumps({"library": args.library, "error": f"not installed ({e}); pip install hl7==0.4.5 hl7apy==1.3.5"}))
        return 3

    messages = []
    for path in args.files:
        with open(path, "rb") as f:
            messages.append(prepare(f.read()))

    # One untimed pass: finds the refused messages and warms up lazily loaded tables (hl7apy's version modules).
    accepted = []
    for text in messages:
        try:
            parse(text)
            accepted.append(True)
        except Exception:
            accepted.append(False)

    times = []
    sink = 0
    for _ in range(max(args.rounds, 1)):
        start = time.perf_counter()
        for text in messages:
            try:
                m = parse(text)
                sink += 1 if m is not None else 0
            except Exception:
                pass
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    print(json.dumps({
        "library": args.library,
        "version": version,
        "messages": len(messages),
        "parsed": sum(accepted),
        "seconds": seconds,
        "msgs_per_s": len(messages) / seconds if seconds > 0 else 0.0,
        "rounds": len(times),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
