#!/usr/bin/env python3
"""Data and the write client for scripts/bench-http.sh (issue 17, Deliver 9). Standard library only.

  consent --bundle FILE --actor SYSTEM|VALUE --out FILE
      A permitting Consent (TREAT, for the actor) for the Patient of a Synthea transaction Bundle, naming the
      patient by its first identifier, as a hospital would record it. Prints `SYSTEM|VALUE` of that identifier.
  copies --bundles DIR --copies K --out DIR
      K copies of every transaction Bundle in DIR, each with fresh UUIDs (ids, fullUrls, references) and every
      identifier value suffixed, so that no two copies name the same resource. Prints the resource count.
  post --base URL --token TOKEN --dir DIR [--concurrency C]
      POSTs every Bundle of DIR to the gateway's base (`POST /`) over C keep-alive connections, each Bundle once,
      and prints one JSON line: bundles, resources, seconds, resources/s, failures (a non-200 answer or an entry
      not 201/200 is a failure, with the first one's status and body).
"""
import argparse
import glob
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NAMESPACE = uuid.UUID("5b0e7d52-8f4c-4a43-9a4e-6c1f0b7d3e21")


def consent(args):
    with open(args.bundle) as f:
        bundle = json.load(f)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    identifier = next(i for i in patient.get("identifier", []) if i.get("system") and i.get("value"))
    system, value = args.actor.split("|", 1)
    reason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    document = {
        "resourceType": "Consent",
        "id": "bench-consent-" + value.lower().replace(" ", "-")[:40],
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": {"identifier": {"system": identifier["system"], "value": identifier["value"]}},
        "dateTime": "2026-01-15T09:30:00Z",
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {
            "type": "permit",
            "period": {"start": "2026-01-15", "end": "2030-12-31"},
            "actor": [{
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                "reference": {"identifier": {"system": system, "value": value}},
            }],
            "purpose": [{"system": reason, "code": "TREAT"}],
        },
    }
    with open(args.out, "w") as f:
        json.dump(document, f, indent=2)
    print(f"{identifier['system']}|{identifier['value']}")


def suffix_identifiers(value, k):
    """Every `identifier` value gets `-k`, so that copies are different patients to the importer too."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "identifier":
                items = item if isinstance(item, list) else [item]
                fixed = [dict(i, value=f"{i['value']}-{k}") if isinstance(i, dict) and "value" in i else i for i in items]
                out[key] = fixed if isinstance(item, list) else fixed[0]
            else:
                out[key] = suffix_identifiers(item, k)
        return out
    if isinstance(value, list):
        return [suffix_identifiers(v, k) for v in value]
    return value


def copies(args):
    os.makedirs(args.out, exist_ok=True)
    resources = 0
    for path in sorted(glob.glob(os.path.join(args.bundles, "*.json"))):
        with open(path) as f:
            text = f.read()
        bundle = json.loads(text)
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            continue
        name = os.path.splitext(os.path.basename(path))[0][:40]
        for k in range(args.copies):
            rekeyed = UUID.sub(lambda m: str(uuid.uuid5(NAMESPACE, f"{k}:{m.group(0)}")), text)
            copy = suffix_identifiers(json.loads(rekeyed), k)
            resources += len(copy["entry"])
            with open(os.path.join(args.out, f"{name}-{k:04d}.json"), "w") as f:
                json.dump(copy, f, separators=(",", ":"))
    print(resources)


def post(args):
    paths = sorted(glob.glob(os.path.join(args.dir, "*.json")))
    bodies = []
    for path in paths:
        with open(path, "rb") as f:
            body = f.read()
        bodies.append((path, body, len(json.loads(body)["entry"])))
    url = urllib.parse.urlsplit(args.base)
    lock = threading.Lock()
    queue = list(reversed(bodies))
    done = {"resources": 0, "bundles": 0, "failures": 0, "first": None}

    def worker():
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
        headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/fhir+json",
                   "Accept": "application/fhir+json", "Prefer": "return=minimal"}
        while True:
            with lock:
                if not queue:
                    break
                path, body, count = queue.pop()
            connection.request("POST", url.path.rstrip("/") + "/", body=body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
            ok = answer.status == 200
            if ok:
                entries = json.loads(payload).get("entry", [])
                ok = len(entries) == count and all(e.get("response", {}).get("status", "")[:3] in ("200", "201") for e in entries)
            with lock:
                if ok:
                    done["resources"] += count
                    done["bundles"] += 1
                else:
                    done["failures"] += 1
                    if done["first"] is None:
                        done["first"] = f"{os.path.basename(path)}: {answer.status} {payload[:300]!r}"
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    print(json.dumps({"bundles": done["bundles"], "resources": done["resources"], "seconds": round(seconds, 3),
                      "rate": round(done["resources"] / seconds, 1), "failures": done["failures"],
                      "first_failure": done["first"]}))
    return 1 if done["failures"] else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("consent")
    c.add_argument("--bundle", required=True)
    c.add_argument("--actor", required=True)
    c.add_argument("--out", required=True)
    k = sub.add_parser("copies")
    k.add_argument("--bundles", required=True)
    k.add_argument("--copies", type=int, required=True)
    k.add_argument("--out", required=True)
    p = sub.add_parser("post")
    p.add_argument("--base", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    return {"consent": consent, "copies": copies, "post": post}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
