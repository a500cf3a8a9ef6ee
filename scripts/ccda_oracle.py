#!/usr/bin/env python3
"""Independent check of CareLedger's C-CDA conversion.

Runs `careledger ccda convert --compact --quiet` on every document of the C-CDA corpus and validates every resource
of every Bundle with fhirkit-rs (FHIR R4 4.0.1), independently of CareLedger's own validator. A document the
converter refuses must come with an OperationOutcome (and is counted, not failed, when it is one of the corpus's
implementation-guide fragments without the CDA namespace). Every resource also gets a second opinion from the
fhir.resources R4B models (scripts/r4b_opinion.py). Prints the pass counts; exit 1 on any failure, 2 when it
cannot run (fhirkit-rs or fhir.resources missing: pip install -r scripts/requirements-oracle.txt).

    python3 scripts/ccda_oracle.py [--careledger PATH] [--corpus DIR] [--json]
"""
import argparse
import json
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--careledger", default=str(ROOT / ".build/debug/careledger"))
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared/corpus/ccda"))
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line at the end")
    args = parser.parse_args()
    try:
        import fhirkit  # noqa: F401
    except ImportError:
        print("fhirkit-rs is not installed: pip install -r scripts/requirements-oracle.txt", file=sys.stderr)
        return 2
    import fhirkit
    import r4b_opinion
    if not r4b_opinion.available():
        print("fhir.resources is not installed: pip install -r scripts/requirements-oracle.txt", file=sys.stderr)
        return 2

    files = sorted(Path(args.corpus).glob("*.xml"))
    if not files or not Path(args.careledger).exists():
        print(f"nothing to check: corpus {args.corpus} ({len(files)} files), binary {args.careledger}", file=sys.stderr)
        return 2
    checked, passed = Counter(), Counter()
    r4b_passed = 0
    failures, refused = [], []
    converted = 0
    for path in files:
        try:
            run = subprocess.run([args.careledger, "ccda", "convert", "--compact", "--quiet", str(path)],
                                 capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            failures.append(f"{path.name}: the converter took more than 60 s")
            continue
        if run.returncode < 0 or run.returncode >= 128:
            failures.append(f"{path.name}: the converter crashed (exit {run.returncode})")
            continue
        try:
            document = json.loads(run.stdout, parse_float=Decimal)
        except ValueError as exc:
            failures.append(f"{path.name}: stdout is not JSON ({exc})")
            continue
        if run.returncode != 0:
            issues = [i for i in document.get("issue", []) if i.get("severity") in ("error", "fatal")]
            if document.get("resourceType") != "OperationOutcome" or not issues:
                failures.append(f"{path.name}: refused without an OperationOutcome error")
                continue
            bad = [f"{i.path}: {i.message}" for i in fhirkit.validate(document) if i.severity == "error"]
            if bad:
                failures.append(f"{path.name}: its OperationOutcome is not valid R4: {'; '.join(bad)}")
                continue
            refused.append(f"{path.name}: {issues[0].get('diagnostics', '')[:110]}")
            continue
        converted += 1
        for entry in document.get("entry", []):
            resource = entry.get("resource", {})
            rtype = resource.get("resourceType", "?")
            checked[rtype] += 1
            bad = [f"{i.path}: {i.message}" for i in fhirkit.validate(resource) if i.severity == "error"]
            if bad:
                failures.append(f"{path.name} {rtype}/{resource.get('id')}: {'; '.join(bad[:3])}")
            else:
                passed[rtype] += 1
            second = r4b_opinion.problems(resource)
            if second:
                failures.append(f"{path.name} {rtype}/{resource.get('id')}: fhir.resources R4B (second opinion): {second[0][:300]}")
            else:
                r4b_passed += 1
    print(f"C-CDA corpus: {len(files)} documents, {converted} converted, {len(refused)} refused with an OperationOutcome")
    for r in refused:
        print(f"  refused  {r}")
    print("FHIR R4 validation (fhirkit-rs), resources checked / passed by type:")
    for rtype in sorted(checked):
        print(f"  {rtype:24} {checked[rtype]:5} / {passed[rtype]}")
    total, ok = sum(checked.values()), sum(passed.values())
    print(f"  {'all resources':24} {total:5} / {ok}")
    print(f"second opinion, fhir.resources {r4b_opinion.version()} R4B models: {total} checked / {r4b_passed} passed")
    for f in failures:
        print(f"  FAIL {f}")
    summary = {"documents": len(files), "converted": converted, "refused": len(refused), "resources_checked": total,
               "resources_passed": ok, "r4b_checked": total, "r4b_passed": r4b_passed,
               "failures": len(failures), "ok": not failures}
    print(f"RESULT: {'PASS' if not failures else 'FAIL'} ({len(failures)} failure(s))")
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
