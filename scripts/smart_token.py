#!/usr/bin/env python3
"""Get an access token from a CareLedger gateway by SMART Backend Services, as a partner's system would.

Makes a client assertion (RFC 7523) with PyJWT from a PEM private key — RS384 (RSA), ES384 (P-384) or EdDSA
(Ed25519) — posts it to the token endpoint as a client_credentials grant and prints the access token (or, with
--json, the whole token response). With --print-jwks it only prints the public JWKS of the key, for the client's
registration (`careledger client register --jwks FILE`) or the node's config/clients.json.

  python3 scripts/smart_token.py --token-url http://127.0.0.1:8080/auth/token --client-id ID \\
      --key key.pem --alg ES384 --kid k1 [--scope 'system/*.rs'] [--purpose TREAT] [--json]
  python3 scripts/smart_token.py --key key.pem --alg ES384 --kid k1 --print-jwks

Needs PyJWT and cryptography (pip install PyJWT cryptography). Exits 1 with the endpoint's OAuth error when refused.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import jwt  # PyJWT
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def public_jwk(private_key, alg, kid):
    """The public JWK of the key, as the client registers it."""
    algorithm = jwt.get_algorithm_by_name(alg)
    jwk = json.loads(algorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


def assertion(private_key, args):
    now = int(time.time())
    claims = {"iss": args.client_id, "sub": args.client_id, "aud": args.token_url, "iat": now,
              "exp": now + args.lifetime, "jti": str(uuid.uuid4())}
    if args.purpose:
        claims["purpose_of_use"] = args.purpose
    return jwt.encode(claims, private_key, algorithm=args.alg, headers={"kid": args.kid, "typ": "JWT"})


def request_token(signed, args):
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}
    if args.scope:
        form["scope"] = args.scope
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(args.token_url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        sys.stderr.write(f"smart_token: the token endpoint answered {error.code}: {error.read().decode(errors='replace')}\n")
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description="SMART Backend Services token from a PEM key (PyJWT)")
    parser.add_argument("--token-url", help="the gateway's token endpoint (also the assertion's aud)")
    parser.add_argument("--client-id")
    parser.add_argument("--key", required=True, help="PEM private key (RSA, P-384 or Ed25519)")
    parser.add_argument("--alg", choices=["RS384", "ES384", "EdDSA"], default="RS384")
    parser.add_argument("--kid", required=True, help="the key id registered in the client's JWKS")
    parser.add_argument("--scope", help="space-separated scopes; without it the registered ones are granted")
    parser.add_argument("--purpose", help="purpose_of_use claim: a code (TREAT) or system|code")
    parser.add_argument("--lifetime", type=int, default=240, help="assertion lifetime in seconds (at most 300)")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--json", action="store_true", help="print the whole token response")
    parser.add_argument("--print-jwks", action="store_true", help="only print the key's public JWKS")
    args = parser.parse_args()

    with open(args.key, "rb") as f:
        private_key = load_pem_private_key(f.read(), password=None)
    if args.print_jwks:
        print(json.dumps({"keys": [public_jwk(private_key, args.alg, args.kid)]}, indent=2))
        return
    if not args.token_url or not args.client_id:
        parser.error("--token-url and --client-id are needed to get a token")
    answer = request_token(assertion(private_key, args), args)
    print(json.dumps(answer) if args.json else answer["access_token"])


if __name__ == "__main__":
    main()
