#!/usr/bin/env python3
"""Print securesystemslib's view of a public key: keyid and TUF key object.

  keyid.py PUBLIC_KEY_FILE [--scheme ecdsa-sha2-nistp256|ed25519]

PUBLIC_KEY_FILE is an SPKI PEM public key (P-256 or Ed25519). The key is
loaded the way python-tuf users do (pyca/cryptography -> SSlibKey.from_crypto),
which computes the default keyid = sha256(canonical_json({keytype, scheme,
keyval})). Prints one line of JSON: {"keyid": "...", "key": <key.to_dict()>}
with keys sorted.
"""

from __future__ import annotations

import argparse
import json
import sys

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.signer import SSlibKey


def main() -> int:
    p = argparse.ArgumentParser(description="print securesystemslib keyid and key object")
    p.add_argument("public_key_file")
    p.add_argument("--scheme", choices=["ecdsa-sha2-nistp256", "ed25519"],
                   help="signing scheme (default: derived from the key type)")
    a = p.parse_args()
    with open(a.public_key_file, "rb") as f:
        public_key = load_pem_public_key(f.read())
    key = SSlibKey.from_crypto(public_key, scheme=a.scheme)
    # from_crypto does not check that an explicit scheme fits the key: do it here
    default = SSlibKey.from_crypto(public_key)
    if a.scheme and a.scheme != default.scheme:
        print(f"keyid.py: scheme {a.scheme} does not fit a {default.keytype} key", file=sys.stderr)
        return 2
    print(json.dumps({"keyid": key.keyid, "key": key.to_dict()}, sort_keys=True, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
