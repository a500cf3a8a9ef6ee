#!/usr/bin/env python3
"""Independent FHIR R4 structural validator for CareLedger's tests (fhirkit-rs from PyPI).

Reads one FHIR JSON resource per line on standard input and writes one JSON line per resource:
{"errors": ["Patient.birthDate", ...]} — the FHIRPath-style locations fhirkit reports as errors, or
{"parse_error": "..."} when fhirkit cannot read the line at all. The Swift test suite feeds it mutated
corpus resources and checks that CareLedger's validator rejects exactly the ones fhirkit rejects.

Install: pip install fhirkit-rs
"""
import json
import sys

try:
    import fhirkit
except ImportError:  # the caller turns this into a clear test failure
    print("fhirkit-rs is not installed: pip install fhirkit-rs", file=sys.stderr)
    sys.exit(3)


def main() -> int:
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            issues = fhirkit.validate(line)
            errors = sorted({i.path for i in issues if i.severity == "error"})
            print(json.dumps({"errors": errors}))
        except Exception as exc:  # fhirkit.ParseError and friends
            print(json.dumps({"parse_error": str(exc)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
