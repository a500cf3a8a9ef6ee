#!/usr/bin/env python3
"""Drive a running CareLedger gateway with real FHIR client libraries, as a partner's or the hospital's system would.

Gets an access token by SMART Backend Services (a client assertion signed with PyJWT, RS384 or ES384), then with
both `fhirclient` (SMART's Python client, R4 models) and `fhirpy`:

  - reads the Patient `--patient`;
  - searches `Observation?patient=…&_count=N` and follows `next` links through every page;
  - creates a Patient, updates it, and reads the new version back;
  - posts a transaction Bundle (a Patient and an Observation linked by a `urn:uuid:` reference).

With --read-only only the read and the searches run (a partner's client with read scopes; a read refused by
consent is reported as `readRefused`, not as a failure).

Prints one JSON object with what each client saw (the Swift test compares it with the store) and exits 1 if any
step failed. Usage:

  python3 scripts/gateway_clients.py --base http://127.0.0.1:8080 --client-id ID --key key.pem --alg RS384 \
      [--kid KID] [--scope 'system/*.cruds'] --patient ID [--count 7]
"""
import argparse
import json
import sys
import time
import uuid

import jwt  # PyJWT, with `cryptography` for RS384/ES384
import requests


def access_token(args):
    token_url = args.token_url or args.base.rstrip("/") + "/auth/token"
    now = int(time.time())
    claims = {"iss": args.client_id, "sub": args.client_id, "aud": token_url, "exp": now + 240,
              "iat": now, "jti": str(uuid.uuid4())}
    headers = {"kid": args.kid} if args.kid else {}
    with open(args.key, "rb") as f:
        assertion = jwt.encode(claims, f.read(), algorithm=args.alg, headers=headers)
    answer = requests.post(token_url, data={
        "grant_type": "client_credentials",
        "scope": args.scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }, timeout=60)
    if answer.status_code != 200:
        raise RuntimeError(f"token endpoint answered {answer.status_code}: {answer.text}")
    return answer.json()["access_token"]


def run_identifier(args, client):
    """A business identifier unique to this run and client: the pipeline derives a created resource's id from its
    type, writer and identifiers, so two runs against one store must not create the same Patient."""
    return {"system": "urn:example:gateway-clients", "value": f"{client}-{args.tag}"}


def transaction_bundle(family, identifier):
    patient = f"urn:uuid:{uuid.uuid4()}"
    return {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": patient,
             "resource": {"resourceType": "Patient", "name": [{"family": family, "given": ["Tx"]}],
                          "identifier": [identifier]},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}",
             "resource": {"resourceType": "Observation", "status": "final",
                          "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                          "subject": {"reference": patient},
                          "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org",
                                            "code": "/min"}},
             "request": {"method": "POST", "url": "Observation"}},
        ],
    }


def with_fhirclient(args, token):
    from fhirclient import server as fserver
    from fhirclient.models.patient import Patient
    from fhirclient.models.observation import Observation
    from fhirclient.models.humanname import HumanName

    srv = fserver.FHIRServer(None, base_uri=args.base.rstrip("/") + "/")
    srv.session.headers["Authorization"] = f"Bearer {token}"
    out = {}
    try:
        out["read"] = Patient.read(args.patient, srv).id
    except fserver.FHIRPermissionDeniedException as e:  # a partner refused by consent: the status is the result
        out["readRefused"] = e.response.status_code
    ids, pages = [], 0
    search = Observation.where(struct={"patient": args.patient, "_count": str(args.count)})
    for bundle in search.perform_iter(srv):
        pages += 1
        ids += [e.resource.id for e in (bundle.entry or []) if e.resource is not None
                and e.resource.resource_type == "Observation"]
    out["searchIds"] = sorted(ids)
    out["searchPages"] = pages
    if args.read_only:
        return out
    created = Patient({"name": [{"family": "Fhirclient", "given": ["Created"]}],
                       "identifier": [run_identifier(args, "fhirclient")]})
    answer = created.create(srv) or {}
    new_id = answer.get("id") or created.id
    out["created"] = new_id
    out["createdVersion"] = (answer.get("meta") or {}).get("versionId")
    created = Patient.read(new_id, srv)
    created.name = [HumanName({"family": "Fhirclient", "given": ["Updated"]})]
    created.update(srv)
    again = Patient.read(new_id, srv)
    out["updatedVersion"] = again.meta.versionId if again.meta else None
    out["updatedGiven"] = again.name[0].given[0]
    tx = srv.post_json("", transaction_bundle("FhirclientTx", run_identifier(args, "fhirclient-tx"))).json()
    out["transactionStatuses"] = [e["response"]["status"] for e in tx.get("entry", [])]
    out["transactionLocations"] = [e["response"].get("location") for e in tx.get("entry", [])]
    return out


def with_fhirpy(args, token):
    from fhirpy import SyncFHIRClient
    from fhirpy.base.exceptions import ForbiddenError

    client = SyncFHIRClient(args.base.rstrip("/"), authorization=f"Bearer {token}")
    out = {}
    try:
        out["read"] = client.reference("Patient", args.patient).to_resource()["id"]
    except ForbiddenError as e:  # fhirpy's 403, carrying the OperationOutcome's text: its issue code is the result
        out["readRefused"] = json.loads(str(e))["issue"][0]["code"]
    ids, pages = [], 0
    # A relative path takes its query as params (fhirpy appends `?params` itself); `next` links are absolute URLs
    # under the base, which fhirpy requests as they are.
    bundle = client.execute("Observation", method="get", params={"patient": args.patient, "_count": args.count})
    while True:
        pages += 1
        ids += [e["resource"]["id"] for e in bundle.get("entry", [])
                if e.get("resource", {}).get("resourceType") == "Observation"]
        nxt = [l["url"] for l in bundle.get("link", []) if l.get("relation") == "next"]
        if not nxt:
            break
        bundle = client.execute(nxt[0], method="get")
    out["searchIds"] = sorted(ids)
    out["searchPages"] = pages
    # fhirpy's own paging (fetch_all follows next links) must see the same set.
    # (A partner's pages also carry the consent notice, an OperationOutcome entry: only Observations count.)
    out["fetchAllIds"] = sorted(r["id"] for r in client.resources("Observation")
                                .search(patient=args.patient).limit(args.count).fetch_all()
                                if r["resourceType"] == "Observation")
    if args.read_only:
        return out
    created = client.resource("Patient", name=[{"family": "Fhirpy", "given": ["Created"]}],
                              identifier=[run_identifier(args, "fhirpy")])
    created.save()
    out["created"] = created["id"]
    out["createdVersion"] = created["meta"]["versionId"]
    created["name"] = [{"family": "Fhirpy", "given": ["Updated"]}]
    created.save()
    again = client.reference("Patient", created["id"]).to_resource()
    out["updatedVersion"] = again["meta"]["versionId"]
    out["updatedGiven"] = again["name"][0]["given"][0]
    tx = client.execute("", method="post", data=transaction_bundle("FhirpyTx", run_identifier(args, "fhirpy-tx")))
    out["transactionStatuses"] = [e["response"]["status"] for e in tx.get("entry", [])]
    out["transactionLocations"] = [e["response"].get("location") for e in tx.get("entry", [])]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--token-url")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--key", required=True, help="PEM private key of the client")
    parser.add_argument("--alg", default="RS384", choices=["RS384", "ES384"])
    parser.add_argument("--kid")
    parser.add_argument("--scope", default="system/*.cruds")
    parser.add_argument("--patient", required=True)
    parser.add_argument("--count", type=int, default=7)
    parser.add_argument("--read-only", action="store_true",
                        help="only the read and the searches (a partner client with read scopes, decided by consent)")
    parser.add_argument("--tag", default=str(uuid.uuid4()), help="makes this run's created resources its own")
    args = parser.parse_args()

    report, failed = {}, False
    try:
        token = access_token(args)
    except Exception as e:  # noqa: BLE001 - reported as data
        print(json.dumps({"error": f"token: {e}"}))
        return 1
    for name, run in (("fhirclient", with_fhirclient), ("fhirpy", with_fhirpy)):
        try:
            report[name] = run(args, token)
        except Exception as e:  # noqa: BLE001 - reported as data
            report[name] = {"error": f"{type(e).__name__}: {e}"}
            failed = True
    print(json.dumps(report, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
