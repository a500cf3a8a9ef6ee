#!/usr/bin/env python3
"""Independent oracle for CareLedger's HL7 v2 -> FHIR R4 conversion.

For every message of the HL7 v2 corpus it runs `careledger hl7 convert FILE` and checks the
Bundle(s) it prints in two independent ways:

1. FHIR R4 validity: every entry's resource is validated with fhirkit-rs (`fhirkit.validate`),
   plus the Bundle shell (type transaction, request PUT "Type/id", no duplicate urls); and, as a second
   opinion, with the fhir.resources R4B models (scripts/r4b_opinion.py).
2. Content: the same message is parsed with python-hl7 (`hl7.parse`) and key fields are
   compared with the Bundle: PID-3 identifiers, PID-5 family/given, PID-7 birth date,
   OBX-3 codes, OBX-5 values (NM / ST / TX / FT / CE / CWE) and OBX-6 units.
3. Malformed inputs (corpus malformed/): the converter must exit non-zero, not by a signal,
   with an OperationOutcome carrying an error or fatal issue on stdout.

Exit status: 0 all checks passed, 1 some check failed, 2 the oracle could not run
(missing package, missing converter binary, missing corpus).
`--json` prints the summary as one JSON object on the last line.
`--self-test` exercises the comparison and validation logic on hand-built Bundles
(no converter binary needed).

Install: pip install -r scripts/requirements-oracle.txt
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation
from pathlib import Path

try:
    import fhirkit  # PyPI: fhirkit-rs
    import hl7  # PyPI: hl7 (python-hl7)
    import hl7.util
    import r4b_opinion  # scripts/r4b_opinion.py: fhir.resources R4B models, the second opinion
    if not r4b_opinion.available():
        raise ImportError("fhir.resources")
except ImportError as exc:  # pragma: no cover - environment problem, not a test failure
    print(f"hl7_oracle: missing Python package ({exc}); "
          "run: pip install -r scripts/requirements-oracle.txt", file=sys.stderr)
    sys.exit(2)

# python-hl7 logs (via logger.exception) every escape sequence it cannot map; keep stderr clean.
_hl7_log = logging.getLogger(hl7.util.__file__)
_hl7_log.addHandler(logging.NullHandler())
_hl7_log.propagate = False

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CARELEDGER = REPO_ROOT / ".build" / "debug" / "careledger"
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "hl7v2"
TIMEOUT_S = 30
SELF_TEST_FILE = "msconv-ADT-A01-01.hl7"

# Highlighting escapes \H\ \N\ carry no text; python-hl7 would turn them into "_".
UNESCAPE_APP_MAP = {"H": "", "N": ""}
NM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
CHECK_CATEGORIES = ("patient_identifiers", "patient_names", "birth_dates",
                    "observation_codes", "observation_values", "observation_units")


# ----------------------------------------------------------------------------------------------
# HL7 v2 side (python-hl7)
# ----------------------------------------------------------------------------------------------

class OracleParseError(Exception):
    """python-hl7 could not read the message: not counted against the converter."""


def split_messages(raw: bytes) -> tuple[list[str], list[str]]:
    """Bytes of a corpus file -> (messages as \\r-joined text, notes).

    Strips a UTF-8 BOM, decodes UTF-8 (Latin-1 fallback, noted), turns CRLF / LF / CR into \\r,
    drops blank lines (python-hl7 crashes on empty segments) and splits before each MSH.
    Segments before the first MSH (FHS/BHS batch headers) and batch trailers are dropped.
    """
    notes = []
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        notes.append("BOM stripped")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        notes.append("not UTF-8, decoded as Latin-1")
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    messages: list[list[str]] = []
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("MSH"):
            messages.append([line])
        elif line[:3] in ("FHS", "BHS", "BTS", "FTS"):
            continue
        elif messages:
            messages[-1].append(line)
        # anything before the first MSH that is not a batch header is ignored
    return ["\r".join(m) for m in messages], notes


def parse_message(text: str):
    try:
        msg = hl7.parse(text)
        for seg in msg:  # make sure every segment has an id, as segments() relies on it
            str(seg[0][0])
        return msg
    except Exception as exc:  # python-hl7 raises ParseException, IndexError, ...
        raise OracleParseError(f"{type(exc).__name__}: {exc}") from exc


def field_tree(seg, n: int) -> list[list[list[str]]]:
    """Field n of a segment as repetitions -> components -> subcomponents (plain strings).

    python-hl7's tree is irregular (a field without separators is just [str]); normalise it.
    """
    if n >= len(seg):
        return []
    field = seg[n]
    if isinstance(field, str):
        return [[[field]]]
    items = list(field)
    if len(items) == 1 and isinstance(items[0], str):
        return [[[items[0]]]]
    reps = []
    for rep in items:
        if isinstance(rep, str):
            reps.append([[rep]])
            continue
        ritems = list(rep)
        if len(ritems) == 1 and isinstance(ritems[0], str):
            reps.append([[ritems[0]]])
            continue
        comps = []
        for comp in ritems:
            comps.append([comp] if isinstance(comp, str) else [str(s) for s in comp])
        reps.append(comps)
    return reps


def get(tree, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    """Raw (still escaped) value at 1-based rep/comp/sub, "" when absent."""
    try:
        return tree[rep - 1][comp - 1][sub - 1]
    except IndexError:
        return ""


def unesc(msg, value: str) -> str:
    return msg.unescape(value, app_map=UNESCAPE_APP_MAP) if value else ""


def rep_text(msg, tree, rep: int = 1) -> str:
    """The whole repetition as text (components re-joined), unescaped."""
    if rep > len(tree):
        return ""
    comp_sep, sub_sep = msg.separators[3], msg.separators[4]
    return comp_sep.join(sub_sep.join(unesc(msg, s) for s in comp) for comp in tree[rep - 1])


def norm_ws(s: str) -> str:
    return " ".join(s.split())


def segments(msg, seg_id: str):
    return [seg for seg in msg if str(seg[0][0]) == seg_id]


# ----------------------------------------------------------------------------------------------
# Comparison of one parsed message with the resources of its Bundle(s)
# ----------------------------------------------------------------------------------------------

class Tally:
    """checks done / passed per category, plus the mismatches found."""

    def __init__(self):
        self.done = Counter()
        self.passed = Counter()
        self.skipped = Counter()
        self.mismatches: list[str] = []

    def check(self, category: str, ok: bool, where: str, detail: str):
        self.done[category] += 1
        if ok:
            self.passed[category] += 1
        else:
            self.mismatches.append(f"{where}: {category}: {detail}")

    def skip(self, category: str):
        self.skipped[category] += 1

    def merge(self, other: "Tally"):
        self.done.update(other.done)
        self.passed.update(other.passed)
        self.skipped.update(other.skipped)
        self.mismatches.extend(other.mismatches)

    def failed(self) -> int:
        return sum(self.done.values()) - sum(self.passed.values())


def _s(v) -> str:
    return v.strip() if isinstance(v, str) else ""


def expected_birth_date(raw: str) -> str | None:
    m = re.match(r"\d+", raw.strip())
    if not m:
        return None
    d = m.group(0)
    if len(d) >= 8:
        return f"{d[0:4]}-{d[4:6]}-{d[6:8]}"
    if len(d) >= 6:
        return f"{d[0:4]}-{d[4:6]}"
    if len(d) >= 4:
        return d[0:4]
    return None


def _decimal(v) -> Decimal | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None


def compare_message(msg, resources: list[dict], where: str) -> Tally:
    t = Tally()
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    observations = [r for r in resources if r.get("resourceType") == "Observation"]

    # --- Patient from PID (first PID of the message) ---
    pids = segments(msg, "PID")
    if pids:
        pid = pids[0]
        ids = {_s(i.get("value")) for p in patients for i in p.get("identifier", []) or []}
        for n, rep in enumerate(field_tree(pid, 3), start=1):
            value = unesc(msg, get([rep], 1, 1, 1)).strip()
            if not value:
                continue
            t.check("patient_identifiers", value in ids, where,
                    f"PID-3[{n}].1 {value!r} not among Patient.identifier.value {sorted(ids)}")

        name_tree = field_tree(pid, 5)
        family = unesc(msg, get(name_tree, 1, 1, 1)).strip()
        given = unesc(msg, get(name_tree, 1, 2, 1)).strip()
        if family or given:
            names = [n for p in patients for n in p.get("name", []) or []]
            ok = False
            for name in names:
                givens = [_s(g) for g in name.get("given", []) or []]
                fam_ok = not family or _s(name.get("family")) == family
                giv_ok = not given or given in givens or norm_ws(" ".join(givens)) == norm_ws(given)
                if fam_ok and giv_ok:
                    ok = True
                    break
            got = [(n.get("family"), n.get("given")) for n in names]
            t.check("patient_names", ok, where,
                    f"PID-5 family {family!r} given {given!r} not matched by Patient.name {got}")
        else:
            t.skip("patient_names")

        dob_raw = get(field_tree(pid, 7), 1, 1, 1)
        expected = expected_birth_date(unesc(msg, dob_raw))
        if expected:
            got = [p.get("birthDate") for p in patients]
            t.check("birth_dates", expected in got, where,
                    f"PID-7 {dob_raw!r} -> expected birthDate {expected!r}, got {got}")
        elif dob_raw.strip():
            t.skip("birth_dates")  # e.g. "DOB": no digits to compare

    # --- MDM: the OBX segments are the document's text, kept in DocumentReference.content ---
    msh9 = get(field_tree(segments(msg, "MSH")[0], 9), 1, 1).strip() if segments(msg, "MSH") else ""
    if msh9 == "MDM":
        import base64
        texts = []
        for d in (r for r in resources if r.get("resourceType") == "DocumentReference"):
            for c in d.get("content", []) or []:
                data = (c.get("attachment") or {}).get("data")
                if data:
                    texts.append(norm_ws(base64.b64decode(data).decode("utf-8", "replace")))
        for obx in segments(msg, "OBX"):
            if get(field_tree(obx, 2)).strip().upper() not in ("TX", "ST", "FT"):
                continue
            line = norm_ws(rep_text(msg, field_tree(obx, 5)))
            if not line:
                continue
            t.check("observation_values", any(line in doc for doc in texts), f"{where} OBX",
                    f"document text {line[:40]!r} not in DocumentReference.content")
        return t

    # --- Observations from OBX ---
    for obx in segments(msg, "OBX"):
        set_id = get(field_tree(obx, 1)).strip() or "?"
        here = f"{where} OBX[{set_id}]"
        code_tree = field_tree(obx, 3)
        code = unesc(msg, get(code_tree, 1, 1)).strip() or unesc(msg, get(code_tree, 1, 4)).strip()
        if not code:
            t.skip("observation_codes")
            continue
        cands = [o for o in observations
                 if any(_s(c.get("code")) == code
                        for c in (o.get("code") or {}).get("coding", []) or [])]
        t.check("observation_codes", bool(cands), here,
                f"no Observation with code.coding.code {code!r}")
        vtype = unesc(msg, get(field_tree(obx, 2))).strip().upper()
        value_tree = field_tree(obx, 5)
        if not cands:
            if vtype in ("NM", "ST", "TX", "FT", "CE", "CWE"):
                t.skip("observation_values")
            continue

        if vtype == "NM":
            nonempty = [r for r in range(1, len(value_tree) + 1) if rep_text(msg, value_tree, r).strip()]
            text = rep_text(msg, value_tree, 1).strip()
            if len(nonempty) != 1 or nonempty[0] != 1 or not NM_RE.match(text):
                t.skip("observation_values")  # "<5", "60~120", empty: not a plain number
                continue
            want = Decimal(text)
            matched = [o for o in cands
                       if _decimal((o.get("valueQuantity") or {}).get("value")) == want]
            got = [(o.get("valueQuantity") or {}).get("value") for o in cands]
            t.check("observation_values", bool(matched), here,
                    f"{code}: OBX-5 {text!r} -> valueQuantity.value {got}")
            unit_tree = field_tree(obx, 6)
            u1 = unesc(msg, get(unit_tree, 1, 1)).strip()
            u2 = unesc(msg, get(unit_tree, 1, 2)).strip()
            if u1 and matched:
                ok = any(_s((o.get("valueQuantity") or {}).get("unit")) in {u1, u2} - {""}
                         or _s((o.get("valueQuantity") or {}).get("code")) == u1
                         for o in matched)
                got = [((o.get("valueQuantity") or {}).get("unit"),
                        (o.get("valueQuantity") or {}).get("code")) for o in matched]
                t.check("observation_units", ok, here,
                        f"{code}: OBX-6 {u1!r}/{u2!r} -> valueQuantity (unit, code) {got}")
            elif u1:
                t.skip("observation_units")
        elif vtype in ("ST", "TX", "FT"):
            want = norm_ws(rep_text(msg, value_tree, 1))
            if not want:
                t.skip("observation_values")
                continue
            ok = any(norm_ws(_s(o.get("valueString"))).startswith(want) for o in cands)
            got = [(_s(o.get("valueString"))[:80]) for o in cands]
            t.check("observation_values", ok, here,
                    f"{code}: {vtype} OBX-5 {want[:80]!r} is not the start of valueString {got}")
        elif vtype in ("CE", "CWE"):
            want = unesc(msg, get(value_tree, 1, 1)).strip()
            if not want:
                t.skip("observation_values")
                continue
            ok = any(_s(c.get("code")) == want
                     for o in cands
                     for c in (o.get("valueCodeableConcept") or {}).get("coding", []) or [])
            got = [[c.get("code") for c in (o.get("valueCodeableConcept") or {}).get("coding", []) or []]
                   for o in cands]
            t.check("observation_values", ok, here,
                    f"{code}: {vtype} OBX-5.1 {want!r} not in valueCodeableConcept.coding.code {got}")
    return t


# ----------------------------------------------------------------------------------------------
# FHIR side (fhirkit-rs)
# ----------------------------------------------------------------------------------------------

def parse_bundles(stdout: str) -> list[dict]:
    """One JSON document (possibly pretty-printed) or NDJSON, one Bundle per line."""
    text = stdout.strip()
    if not text:
        raise ValueError("empty stdout")
    try:
        doc = json.loads(text, parse_float=Decimal)
        return [doc]
    except json.JSONDecodeError:
        pass
    docs = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                docs.append(json.loads(line, parse_float=Decimal))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {n} is not JSON: {exc}") from None
    return docs


class Validation:
    def __init__(self):
        self.checked = Counter()
        self.passed = Counter()
        self.r4b_passed = 0
        self.bundles_checked = 0
        self.bundles_passed = 0
        self.warnings = 0
        self.failures: list[str] = []

    def merge(self, other: "Validation"):
        self.checked.update(other.checked)
        self.passed.update(other.passed)
        self.r4b_passed += other.r4b_passed
        self.bundles_checked += other.bundles_checked
        self.bundles_passed += other.bundles_passed
        self.warnings += other.warnings
        self.failures.extend(other.failures)


def validate_bundle(bundle, where: str) -> Validation:
    v = Validation()
    v.bundles_checked = 1
    problems = []
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        got = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        v.failures.append(f"{where}: Bundle: expected a Bundle, got {got!r}")
        return v
    if bundle.get("type") != "transaction":
        problems.append(f"Bundle.type is {bundle.get('type')!r}, expected 'transaction'")
    urls = Counter()
    entries = bundle.get("entry") or []
    for i, entry in enumerate(entries):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict):
            problems.append(f"entry[{i}] has no resource")
            continue
        rtype, rid = res.get("resourceType", "?"), res.get("id")
        req = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        if not rid:
            problems.append(f"entry[{i}] {rtype} has no id")
        if req.get("method") != "PUT":
            problems.append(f"entry[{i}].request.method is {req.get('method')!r}, expected 'PUT'")
        if req.get("url") != f"{rtype}/{rid}":
            problems.append(f"entry[{i}].request.url is {req.get('url')!r}, expected '{rtype}/{rid}'")
        urls[req.get("url")] += 1
        v.checked[rtype] += 1
        try:
            issues = fhirkit.validate(res)
        except Exception as exc:  # fhirkit.ParseError for shapes it cannot read
            v.failures.append(f"{where}: {rtype}/{rid}: fhirkit could not read it: {exc}")
            continue
        errors = [i for i in issues if i.severity == "error"]
        v.warnings += len(issues) - len(errors)
        if errors:
            for i in errors:
                v.failures.append(f"{where}: {rtype}/{rid}: {i.path}: {i.message}")
        else:
            v.passed[rtype] += 1
        second = r4b_opinion.problems(res)
        if second:
            v.failures.append(f"{where}: {rtype}/{rid}: fhir.resources R4B (second opinion): {second[0][:300]}")
        else:
            v.r4b_passed += 1
    for url, n in urls.items():
        if n > 1 and url:
            problems.append(f"request.url {url!r} appears {n} times")
    # The Bundle shell itself: fhirkit also walks nested resources, which were reported above.
    try:
        for i in fhirkit.validate(bundle):
            if i.severity == "error" and not re.match(r"^Bundle\.entry\[\d+\]\.resource\b", i.path):
                problems.append(f"{i.path}: {i.message}")
    except Exception as exc:
        problems.append(f"fhirkit could not read the Bundle: {exc}")
    for p in problems:
        v.failures.append(f"{where}: Bundle: {p}")
    if not problems:
        v.bundles_passed = 1
    return v


def error_issues(outcome) -> list[str]:
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return []
    return [f"{i.get('severity')}: {i.get('diagnostics') or i.get('details', {}).get('text') or i.get('code')}"
            for i in outcome.get("issue") or [] if i.get("severity") in ("error", "fatal")]


# ----------------------------------------------------------------------------------------------
# Running the converter
# ----------------------------------------------------------------------------------------------

def run_converter(careledger: str, path: Path) -> tuple[int | None, str, str]:
    """(returncode or None on timeout, stdout, problem text)."""
    try:
        proc = subprocess.run([careledger, "hl7", "convert", str(path)], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {TIMEOUT_S} s"
    except OSError as exc:
        return None, "", f"could not start {careledger}: {exc}"
    try:
        out = proc.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        return proc.returncode, "", f"stdout is not UTF-8: {exc}"
    err_lines = [l.strip() for l in proc.stderr.decode("utf-8", "replace").splitlines() if l.strip()]
    err = err_lines[0][:200] + (f" (+{len(err_lines) - 1} more stderr lines)" if len(err_lines) > 1 else "") \
        if err_lines else ""
    return proc.returncode, out, err


def crashed(rc: int) -> bool:
    return rc < 0 or rc >= 128


def describe_rc(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


# Messages of a supported type that the converter must refuse, with why (the corpus makes them bad on purpose).
EXPECTED_REFUSALS = {
    "cdc-iis-testencoding-m01.hl7": 'this one starts "WHOOPS"',                 # `WHOOPS|` where an OBX belongs
    "cdc-iis-testencoding-m02.hl7": 'this one starts "ID"',                     # `ID|` where PID belongs
    "cdc-ti-Epic_002_Epic_ORU_R01.hl7": '"DOB" is not an HL7 date/time',          # PID-7 holds the word DOB
    "cdc-ti-Test_Orders_006_AL_ORM_O01_NBS_Incorrect_Data_Types_0_initial_message.hl7":
        '"February 4 2024" is not an HL7 date/time',                              # OBR-7 in words
}
UNSUPPORTED = "no mapping in Mappings/hl7v2/messages handles"


def run_oracle(careledger: str, corpus: Path, only: str | None = None) -> dict:
    files = sorted(p for p in corpus.glob("*.hl7") if not only or only in p.name)
    malformed = sorted(p for p in (corpus / "malformed").glob("*") if p.is_file()
                       and (not only or only in p.name))
    validation, tally = Validation(), Tally()
    convert_failures: list[str] = []
    oracle_unparsed: list[str] = []
    unsupported: list[str] = []
    expected_refused: list[str] = []
    converted = 0

    print(f"== 1+2. converting {len(files)} corpus messages with {careledger}")
    for path in files:
        name = path.name
        rc, out, err = run_converter(careledger, path)
        if rc is None or crashed(rc):
            convert_failures.append(f"{name}: converter {err if rc is None else describe_rc(rc)}"
                                    + (f" (stderr: {err})" if rc is not None and err else ""))
            continue
        if rc != 0:
            try:
                issues = error_issues(parse_bundles(out)[0])
            except ValueError:
                issues = []
            text = "; ".join(issues)
            if issues and UNSUPPORTED in issues[0]:
                unsupported.append(name)
            elif name in EXPECTED_REFUSALS and EXPECTED_REFUSALS[name] in text:
                expected_refused.append(f"{name}: {issues[0][:120]}")
            else:
                convert_failures.append(f"{name}: converter refused it ({describe_rc(rc)}): "
                                        + (text or f"no OperationOutcome on stdout; stderr: {err}"))
            continue
        if name in EXPECTED_REFUSALS:
            convert_failures.append(f"{name}: converted, but it must be refused ({EXPECTED_REFUSALS[name]})")
        try:
            bundles = parse_bundles(out)
        except ValueError as exc:
            convert_failures.append(f"{name}: stdout is not a Bundle / NDJSON: {exc}")
            continue
        converted += 1
        for b_index, bundle in enumerate(bundles):
            where = name if len(bundles) == 1 else f"{name}#{b_index + 1}"
            try:
                validation.merge(validate_bundle(bundle, where))
            except Exception as exc:  # a Bundle of an unexpected shape must not stop the run
                validation.failures.append(f"{where}: Bundle of unexpected shape: {type(exc).__name__}: {exc}")

        messages, _notes = split_messages(path.read_bytes())
        per_bundle = [[e["resource"] for e in (b.get("entry") or [])
                       if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
                      if isinstance(b, dict) else [] for b in bundles]
        if len(bundles) != len(messages):
            convert_failures.append(f"{name}: {len(bundles)} Bundle(s) for {len(messages)} message(s)")
            union = [r for rs in per_bundle for r in rs]
            per_bundle = [union] * len(messages)
        for m_index, text in enumerate(messages):
            where = name if len(messages) == 1 else f"{name}#{m_index + 1}"
            try:
                msg = parse_message(text)
            except OracleParseError as exc:
                oracle_unparsed.append(f"{where}: {exc}")
                continue
            try:
                tally.merge(compare_message(msg, per_bundle[m_index], where))
            except Exception as exc:
                convert_failures.append(f"{where}: resources of unexpected shape: {type(exc).__name__}: {exc}")

    print(f"converted {converted}/{len(files)} messages; {len(unsupported)} of message types no mapping handles "
          f"(refused with AR, not counted); {len(expected_refused)} refused as expected:")
    for r in expected_refused:
        print(f"  ok   {r}")
    for f in convert_failures:
        print(f"  FAIL {f}")
    print("FHIR R4 validation (fhirkit-rs), resources checked / passed by type:")
    for rtype in sorted(validation.checked):
        print(f"  {rtype:28} {validation.checked[rtype]:6} / {validation.passed[rtype]}")
    total_checked, total_passed = sum(validation.checked.values()), sum(validation.passed.values())
    print(f"  {'all resources':28} {total_checked:6} / {total_passed}   "
          f"(warnings: {validation.warnings})")
    print(f"  {'bundles (shell + requests)':28} {validation.bundles_checked:6} / {validation.bundles_passed}")
    print(f"second opinion, fhir.resources {r4b_opinion.version()} R4B models: {total_checked} checked / "
          f"{validation.r4b_passed} passed")
    for f in validation.failures:
        print(f"  FAIL {f}")

    print("Content checks against python-hl7, done / passed (skipped):")
    for cat in CHECK_CATEGORIES:
        print(f"  {cat:28} {tally.done[cat]:6} / {tally.passed[cat]}   ({tally.skipped[cat]} skipped)")
    for m in tally.mismatches:
        print(f"  MISMATCH {m}")
    print(f"oracle could not parse: {len(oracle_unparsed)} (not counted against the converter)")
    for u in oracle_unparsed:
        print(f"  {u}")

    print(f"== 3. malformed inputs: {len(malformed)}")
    malformed_passed, malformed_failures = 0, []
    for path in malformed:
        rc, out, err = run_converter(careledger, path)
        if rc is None:
            malformed_failures.append(f"{path.name}: {err}")
            continue
        if crashed(rc):
            malformed_failures.append(f"{path.name}: crashed ({describe_rc(rc)}); stderr: {err}")
            continue
        if rc == 0:
            malformed_failures.append(f"{path.name}: accepted (exit 0), expected a refusal")
            continue
        try:
            docs = parse_bundles(out)
        except ValueError as exc:
            malformed_failures.append(f"{path.name}: {describe_rc(rc)} but stdout is not JSON: {exc}")
            continue
        outcome = docs[0] if len(docs) == 1 else None
        issues = error_issues(outcome)
        if not issues:
            malformed_failures.append(f"{path.name}: {describe_rc(rc)} but stdout is not an "
                                      "OperationOutcome with an error/fatal issue")
            continue
        bad = [f"{i.path}: {i.message}" for i in fhirkit.validate(outcome) if i.severity == "error"]
        if bad:
            malformed_failures.append(f"{path.name}: OperationOutcome is not valid R4: {'; '.join(bad)}")
            continue
        malformed_passed += 1
        print(f"  ok   {path.name}: {describe_rc(rc)}, {issues[0][:100]}")
    print(f"malformed refused cleanly: {malformed_passed}/{len(malformed)}")
    for f in malformed_failures:
        print(f"  FAIL {f}")

    failures = (len(convert_failures) + len(validation.failures) + tally.failed()
                + len(malformed_failures))
    return {
        "corpus_messages": len(files),
        "converted": converted,
        "convert_failures": len(convert_failures),
        "unsupported_types": len(unsupported),
        "expected_refusals": len(expected_refused),
        "resources_checked": total_checked,
        "resources_passed": total_passed,
        "r4b_checked": total_checked,
        "r4b_passed": validation.r4b_passed,
        "resources_by_type": {t: {"checked": validation.checked[t], "passed": validation.passed[t]}
                              for t in sorted(validation.checked)},
        "bundles_checked": validation.bundles_checked,
        "bundles_passed": validation.bundles_passed,
        "validation_failures": len(validation.failures),
        "content_checks": {c: {"done": tally.done[c], "passed": tally.passed[c],
                               "skipped": tally.skipped[c]} for c in CHECK_CATEGORIES},
        "oracle_unparsed": len(oracle_unparsed),
        "malformed": len(malformed),
        "malformed_passed": malformed_passed,
        "failures": failures,
        "ok": failures == 0,
    }


# ----------------------------------------------------------------------------------------------
# Self-test: the logic above on hand-built Bundles, no converter needed
# ----------------------------------------------------------------------------------------------

def plain(obj):
    """Decimals -> int/float so json.dumps writes them as numbers (self-test only)."""
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


def _entry(res: dict) -> dict:
    return {"fullUrl": f"urn:careledger:{res['resourceType']}/{res['id']}", "resource": res,
            "request": {"method": "PUT", "url": f"{res['resourceType']}/{res['id']}"}}


def _bundle(*resources) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [_entry(r) for r in resources]}


def adt_a01_bundle() -> dict:
    """What a correct conversion of msconv-ADT-A01-01.hl7 contains, read off its PID / OBX by eye:
    PID-3 PATID1234^5^M11^...~123456789^^^USSSA^SS, PID-5 EVERYMAN&&&&Aniston^ADAM^A^III^Dr.^MD...,
    PID-7 198808181126+0215, OBX|27|NM|8867-4^heartrate^LN||60~120|beats/min^^ISO."""
    patient = {"resourceType": "Patient", "id": "pid-patid1234",
               "identifier": [{"value": "PATID1234", "type": {"coding": [{"code": "MR"}]}},
                              {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "123456789"}],
               "name": [{"family": "EVERYMAN", "given": ["ADAM", "A"], "suffix": ["III"], "prefix": ["Dr."]},
                        {"family": "Josh", "given": ["stanley"]}],
               "gender": "male", "birthDate": "1988-08-18"}
    obs = {"resourceType": "Observation", "id": "obx-27", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "heartrate"}]},
           "subject": {"reference": "Patient/pid-patid1234"},
           "valueQuantity": {"value": Decimal("60"), "unit": "beats/min"}}
    return _bundle(patient, obs)


SYNTHETIC_HL7 = "\r".join([
    "MSH|^~\\&|LAB|FAC|CL|CL|20240101120000||ORU^R01^ORU_R01|MSG1|P|2.5.1",
    "PID|1||X1^^^H^MR~~Y2^^^S^SS||O\\S\\BRIEN&Van^MARY ANN^Q||197405|F",
    "OBR|1||ORD1|24331-1^Lipid panel^LN",
    "OBX|1|NM|2345-7^Glucose^LN||5.40|mmol/L^millimoles per liter^UCUM|||||F",
    "OBX|2|ST|8251-1^Note^LN||A \\T\\ B~second line||||||F",
    "OBX|3|FT|11502-2^Report^LN||Line one\\.br\\  Line two||||||F",
    "OBX|4|CWE|^^^LOCAL-7^Local^L||260373001^Detected^SCT||||||F",
    "OBX|5|NM|8302-2^Height^LN||>200|cm|||||F",
])


def synthetic_bundle(**wrong) -> dict:
    def obs(oid, code, **value):
        return {"resourceType": "Observation", "id": oid, "status": "final",
                "code": {"coding": [{"code": code}]}, **value}
    return _bundle(
        {"resourceType": "Patient", "id": "p", "identifier": [{"value": "X1"}, {"value": "Y2"}],
         "name": [{"family": wrong.get("family", "O^BRIEN"), "given": ["MARY", "ANN"]}],
         "birthDate": wrong.get("birthDate", "1974-05")},
        obs("o1", "2345-7", valueQuantity={"value": wrong.get("glucose", Decimal("5.4")),
                                           "unit": wrong.get("unit", "millimoles per liter"),
                                           "system": "http://unitsofmeasure.org",
                                           "code": wrong.get("unit", "mmol/L")}),
        obs("o2", "8251-1", valueString=wrong.get("st", "A & B\nsecond line")),
        obs("o3", "11502-2", valueString="Line one\nLine two"),
        obs("o4", wrong.get("localcode", "LOCAL-7"),
            valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct",
                                              "code": wrong.get("cwe", "260373001")}]}),
        obs("o5", "8302-2", valueString=">200"),
    )


FAKE_CONVERTER = r'''#!{python}
import json, os, signal, sys
mode = {mode!r}
path = sys.argv[3]
if sys.argv[1:3] != ["hl7", "convert"]:
    sys.exit(64)
if os.sep + "malformed" + os.sep in path:
    if mode == "crash":
        os.kill(os.getpid(), signal.SIGABRT)
    print(json.dumps({{"resourceType": "OperationOutcome",
                      "issue": [{{"severity": "error", "code": "structure", "diagnostics": "MSH-10 is empty"}}]}}))
    sys.exit(1)
print(open({bundle_path!r}).read())
'''


def self_test() -> int:
    failures = []

    def expect(cond: bool, what: str):
        print(f"  {'ok  ' if cond else 'FAIL'} {what}")
        if not cond:
            failures.append(what)

    corpus_file = DEFAULT_CORPUS / SELF_TEST_FILE
    print(f"self-test: fhirkit {fhirkit.__version__} (FHIR {fhirkit.FHIR_VERSION}), "
          f"hl7 {hl7.__version__ if hasattr(hl7, '__version__') else hl7.get_version()}")
    raw = corpus_file.read_bytes()

    print(f"-- {SELF_TEST_FILE}: separator / BOM normalisation")
    base = raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r").strip(b"\r")
    variants = {"CR": base, "LF": base.replace(b"\r", b"\n"), "CRLF": base.replace(b"\r", b"\r\n") + b"\r\n",
                "BOM+LF+blank lines": b"\xef\xbb\xbf" + base.replace(b"\r", b"\n\n") + b"\n",
                "mixed": base.replace(b"\r", b"\n", 3).replace(b"\r", b"\r\n", 2)}
    ref = None
    for label, data in variants.items():
        msgs, _ = split_messages(data)
        pid = segments(parse_message(msgs[0]), "PID")[0] if len(msgs) == 1 else None
        got = (len(msgs), str(pid) if pid else None)
        ref = ref or got
        expect(got == ref and got[0] == 1, f"{label}: one message, same PID")

    msgs, _ = split_messages(raw)
    msg = parse_message(msgs[0])
    print(f"-- {SELF_TEST_FILE}: comparison logic")
    good = adt_a01_bundle()
    t = compare_message(msg, [e["resource"] for e in good["entry"]], SELF_TEST_FILE)
    for m in t.mismatches:
        print(f"       {m}")
    expect(t.failed() == 0 and t.done["patient_identifiers"] == 2 and t.done["patient_names"] == 1
           and t.done["birth_dates"] == 1 and t.done["observation_codes"] == 1,
           f"correct bundle passes: done {dict(t.done)}, passed {dict(t.passed)}")

    def mutated(change) -> Tally:
        b = json.loads(json.dumps(plain(good)), parse_float=Decimal)
        change(b["entry"][0]["resource"], b["entry"][1]["resource"])
        return compare_message(msg, [e["resource"] for e in b["entry"]], SELF_TEST_FILE)

    cases = [
        ("wrong birth date 1988-08-19", "birth_dates", lambda p, o: p.update(birthDate="1988-08-19")),
        ("birth date shifted by the +0215 offset to 1988-08-17", "birth_dates",
         lambda p, o: p.update(birthDate="1988-08-17")),
        ("wrong family name EVERYMEN", "patient_names", lambda p, o: p["name"][0].update(family="EVERYMEN")),
        ("family kept with subcomponents 'EVERYMAN&&&&Aniston'", "patient_names",
         lambda p, o: p["name"][0].update(family="EVERYMAN&&&&Aniston")),
        ("given name missing", "patient_names", lambda p, o: p["name"][0].update(given=["A"])),
        ("SSN identifier dropped", "patient_identifiers", lambda p, o: p["identifier"].pop()),
        ("OBX-3 code changed", "observation_codes",
         lambda p, o: o["code"]["coding"][0].update(code="8867-5")),
    ]
    for label, category, change in cases:
        t = mutated(change)
        expect(t.failed() >= 1 and any(f": {category}: " in m for m in t.mismatches),
               f"{label}: caught as {category} mismatch")

    print("-- synthetic ORU (escapes, NM/ST/FT/CWE values, units, partial birth date)")
    smsg = parse_message(split_messages(SYNTHETIC_HL7.encode())[0][0])
    t = compare_message(smsg, [e["resource"] for e in synthetic_bundle()["entry"]], "synthetic")
    for m in t.mismatches:
        print(f"       {m}")
    expect(t.failed() == 0 and t.done["observation_values"] == 4 and t.done["observation_units"] == 1
           and t.done["observation_codes"] == 5 and t.skipped["observation_values"] == 1,
           f"correct bundle passes: done {dict(t.done)}, skipped {dict(t.skipped)}")
    for label, category, wrong in [
        ("family not unescaped (O\\S\\BRIEN)", "patient_names", {"family": "O\\S\\BRIEN"}),
        ("birthDate invents a day (1974-05-01 for 197405)", "birth_dates", {"birthDate": "1974-05-01"}),
        ("NM 5.40 -> 5.5", "observation_values", {"glucose": Decimal("5.5")}),
        ("unit mg/dL", "observation_units", {"unit": "mg/dL"}),
        ("ST \\T\\ not unescaped", "observation_values", {"st": "A \\T\\ B"}),
        ("CWE code wrong", "observation_values", {"cwe": "260415000"}),
        ("OBX-3.4 fallback code missing", "observation_codes", {"localcode": "Local"}),
    ]:
        t = compare_message(smsg, [e["resource"] for e in synthetic_bundle(**wrong)["entry"]], "synthetic")
        expect(any(f": {category}: " in m for m in t.mismatches), f"{label}: caught as {category} mismatch")

    print("-- fhirkit-rs validation")
    v = validate_bundle(good, SELF_TEST_FILE)
    v.merge(validate_bundle(synthetic_bundle(), "synthetic"))
    for f in v.failures:
        print(f"       {f}")
    expect(not v.failures and sum(v.checked.values()) == 8 and v.bundles_passed == 2,
           f"hand-built bundles are valid R4: {dict(v.passed)}")
    bad = json.loads(json.dumps(plain(good)), parse_float=Decimal)
    bad["entry"][0]["resource"]["birthDate"] = "1988-13-45"
    bad["entry"][1]["resource"]["status"] = "final "
    bad["entry"][1]["request"]["url"] = "Observation/other"
    v = validate_bundle(bad, "bad")
    for f in v.failures:
        print(f"       {f}")
    expect(any("Patient/pid-patid1234: Patient.birthDate" in f for f in v.failures)
           and any("Observation.status" in f for f in v.failures)
           and any("request.url" in f for f in v.failures) and v.bundles_passed == 0,
           "invalid birthDate, status with a space and a wrong request.url are reported")
    expect(error_issues({"resourceType": "OperationOutcome", "issue": [{"severity": "fatal", "code": "x"}]})
           and not error_issues({"resourceType": "OperationOutcome", "issue": [{"severity": "warning"}]}),
           "OperationOutcome error/fatal detection")
    expect(len(parse_bundles(json.dumps(plain(good), indent=2))) == 1
           and len(parse_bundles(json.dumps(plain(good)) + "\n" + json.dumps(plain(good)))) == 2,
           "stdout as pretty JSON and as NDJSON")

    print("-- end to end with a stand-in converter (temp dir)")
    with tempfile.TemporaryDirectory(prefix="hl7-oracle-") as tmp:
        tmp = Path(tmp)
        (tmp / "corpus" / "malformed").mkdir(parents=True)
        shutil.copy(corpus_file, tmp / "corpus" / SELF_TEST_FILE)
        for p in sorted((DEFAULT_CORPUS / "malformed").glob("*"))[:2]:
            shutil.copy(p, tmp / "corpus" / "malformed" / p.name)
        (tmp / "good.json").write_text(json.dumps(plain(good)))
        wrong = json.loads(json.dumps(plain(good)))
        wrong["entry"][0]["resource"]["birthDate"] = "1988-08-19"
        (tmp / "wrong.json").write_text(json.dumps(wrong))
        for mode, bundle_file, want_ok in [("ok", "good.json", True), ("ok", "wrong.json", False),
                                           ("crash", "good.json", False)]:
            exe = tmp / f"careledger-{mode}-{bundle_file}"
            exe.write_text(FAKE_CONVERTER.format(python=sys.executable, mode=mode,
                                                 bundle_path=str(tmp / bundle_file)))
            exe.chmod(0o755)
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                summary = run_oracle(str(exe), tmp / "corpus")
            if summary["ok"] != want_ok:
                print(buf.getvalue())
            expect(summary["ok"] == want_ok,
                   f"stand-in converter mode={mode} bundle={bundle_file}: ok={summary['ok']} "
                   f"(failures {summary['failures']}, malformed {summary['malformed_passed']}"
                   f"/{summary['malformed']})")

    print(f"self-test: {'PASSED' if not failures else f'{len(failures)} FAILED'}")
    return 0 if not failures else 1


# ----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--careledger", default=str(DEFAULT_CARELEDGER),
                    help="converter binary (default: %(default)s)")
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS),
                    help="HL7 v2 corpus folder with *.hl7 and malformed/ (default: %(default)s)")
    ap.add_argument("-k", "--only", metavar="TEXT", help="only files whose name contains TEXT")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON on the last line")
    ap.add_argument("--self-test", action="store_true",
                    help="check the oracle's own logic on hand-built Bundles (no converter needed)")
    a = ap.parse_args(argv)

    if a.self_test:
        return self_test()

    corpus = Path(a.corpus)
    if not corpus.is_dir() or not any(corpus.glob("*.hl7")):
        print(f"hl7_oracle: no *.hl7 files in {corpus} (use --corpus DIR)", file=sys.stderr)
        return 2
    careledger = a.careledger
    if not (os.path.isfile(careledger) and os.access(careledger, os.X_OK)):
        print(f"hl7_oracle: converter not found or not executable: {careledger} "
              "(build it, or pass --careledger PATH)", file=sys.stderr)
        return 2
    summary = run_oracle(careledger, corpus, a.only)
    print(f"RESULT: {'PASS' if summary['ok'] else 'FAIL'} ({summary['failures']} failure(s))")
    if a.json:
        print(json.dumps(summary, sort_keys=True))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
