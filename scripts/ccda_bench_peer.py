#!/usr/bin/env python3
"""The Python peer of `careledger bench ccda`: convert the same C-CDA documents to FHIR with `ccda-to-fhir`.

Usage: ccda_bench_peer.py [--rounds N] FILE...

Each FILE holds one C-CDA document. Its bytes are read and decoded (UTF-8, a byte order mark dropped; else
ISO 8859-1) once, before any timing. One untimed pass then converts every document with the package's own entry
point, which parses the XML (lxml + pydantic models) and builds the FHIR R4B Bundle as dicts:

  ccda_to_fhir.convert_document(xml_text)     (its defaults: a new DocumentConverter per document, no
                                               fhir.resources validation, duplicate Bundle entries skipped)

A document it refuses (an exception) is counted, named in "failed" (its path as given) and left out of the timed rounds, not
retried. Then the documents it converted are converted again, --rounds times, timed with time.perf_counter
inside this process (interpreter start, imports and file reading excluded); the median round is reported, so
"docs_per_s" is over the converted documents only. The package logs every warning (and INFO lines) to stdout;
logging is disabled here so that neither the console nor the JSON line pays for it.

Prints one JSON object on the last line: {"library", "version", "documents", "converted", "seconds",
"docs_per_s", "resources", "rounds", "failed": [{"file", "error"}]}.
Exit 3 (and a JSON object with "error") when the package is not installed.

Install the peer (the version measured here, Python 3.11; it pulls lxml, pydantic and fhir.resources):
  pip install ccda-to-fhir==0.3
"""

import argparse
import json
import logging
import statistics
import sys
import time
import warnings


def read(path: str) -> str:
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    try:
        from ccda_to_fhir import convert_document
    except ImportError as e:
        print(json.dumps({"library": "ccda-to-fhir", "error": f"not installed ({e}); pip install ccda-to-fhir==0.3"}))
        return 3
    try:
        from importlib.metadata import version as dist_version

        version = dist_version("ccda-to-fhir")  # the package's __version__ lags its release ("0.2.3" in 0.3)
    except Exception:
        import ccda_to_fhir

        version = getattr(ccda_to_fhir, "__version__", "?")

    # Silence the package: it logs to stdout (its own handlers) and through the root logger's last resort.
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")

    texts = [(path, read(path)) for path in args.files]

    # Untimed pass: which documents it converts.
    converted = []
    failed = []
    resources = 0
    for path, text in texts:
        try:
            result = convert_document(text)
        except Exception as e:  # noqa: BLE001 - any refusal counts as one
            failed.append({"file": path, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"})
            continue
        converted.append(text)
        resources += len(result.get("bundle", {}).get("entry", []) or [])

    times = []
    sink = 0
    if converted:
        for _ in range(max(args.rounds, 1)):
            start = time.perf_counter()
            for text in converted:
                sink += len(convert_document(text)["bundle"].get("entry", []) or [])
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times) if times else 0.0
    print(json.dumps({
        "library": "ccda-to-fhir",
        "version": version,
        "documents": len(texts),
        "converted": len(converted),
        "seconds": seconds,
        "docs_per_s": (len(converted) / seconds) if seconds > 0 else 0.0,
        "resources": resources,
        "rounds": len(times),
        "failed": failed,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
