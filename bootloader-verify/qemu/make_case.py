#!/usr/bin/env python3
"""Writes the case files the QEMU firmware images read from PSRAM.

  make_case.py verify ROOT SLOT_SIZE OUT HARDWARE_ID COUNTER [--bootloader X.Y.Z] [ROLE=VERSION...]
      The bootloader's case (src/main.rs): device facts (the bootloader's own
      version is 1.0.0 unless --bootloader says otherwise) and the trusted root.
  make_case.py crypto IMAGE OUT [COUNT]
      The crypto-only baseline's case (src/bin/crypto-only.rs): a fresh P-256
      and Ed25519 key, each signing COUNT (default 8) different 1 KiB
      messages, and the image's SHA-256.
      Needs the `cryptography` package (the project's venv has it).
  make_case.py wycheproof VECTORS OUT
      The Wycheproof firmware's case (src/bin/wycheproof.rs): every test of
      Wycheproof's ECDSA P-256/SHA-256 file VECTORS, each with its key in the
      three spellings the verifier reads (hex uncompressed, hex compressed,
      PEM SubjectPublicKeyInfo).

Used by scripts/test-device and bench/device.
"""
import hashlib
import struct
import sys
import time


def pad(b):
    return b + b"\0" * (-len(b) % 4)


# The bootloader version a case gives the device unless told otherwise.
DEFAULT_BOOTLOADER = "1.0.0"


def verify_case(root_path, slot_size, out, hwid, counter, *rest):
    root = open(root_path, "rb").read()
    hw = hwid.encode()
    bootloader = DEFAULT_BOOTLOADER
    accepted = []
    rest = list(rest)
    while rest:
        arg = rest.pop(0)
        if arg == "--bootloader":
            bootloader = rest.pop(0)
        else:
            accepted.append(arg)
    major, minor, patch = (int(p) for p in bootloader.split("."))
    roles = [(r.encode(), int(v)) for r, v in (a.split("=", 1) for a in accepted)]
    case = b"FWCA" + struct.pack(
        "<IIIQqIIIIIIII", 2, int(slot_size, 0), len(root), int(counter),
        int(time.time()), 1, len(hw), len(roles), 0, major, minor, patch, 0)
    case += pad(hw)
    for name, version in roles:
        case += struct.pack("<IIQ", len(name), 0, version) + pad(name)
    case += root
    open(out, "wb").write(case)


def crypto_case(image_path, out, count="8"):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    image = open(image_path, "rb").read()
    count = int(count)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_pub = p256.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_pub = ed.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    # About the size of the metadata a verification signs over.
    message_len = 1024
    case = b"FWCR" + struct.pack("<IIII", 2, len(image), message_len, count)
    case += hashlib.sha256(image).digest()
    case += pad(p256_pub) + ed_pub
    for k in range(count):
        message = bytes((i * 31 + 7 * k + 7) % 256 for i in range(message_len))
        r, s = decode_dss_signature(p256.sign(message, ec.ECDSA(hashes.SHA256())))
        case += r.to_bytes(32, "big") + s.to_bytes(32, "big") + ed.sign(message)
        case += pad(message)
    open(out, "wb").write(case)


def wycheproof_case(vectors_path, out):
    import json

    doc = json.load(open(vectors_path))
    expected = {"invalid": 0, "valid": 1, "acceptable": 2}
    records = []
    for group in doc["testGroups"]:
        assert group["type"] == "EcdsaVerify" and group["sha"] == "SHA-256"
        uncompressed = group["publicKey"]["uncompressed"]
        point = bytes.fromhex(uncompressed)
        compressed = bytes([2 | (point[-1] & 1)]) + point[1:33]
        # Canonical JSON: no whitespace, only `"` and `\` escaped (neither
        # occurs here), so the PEM's newlines stay raw.
        keyvals = [
            b'{"public":"' + text.encode() + b'"}'
            for text in (uncompressed, compressed.hex(), group["publicKeyPem"])
        ]
        for test in group["tests"]:
            sig = b'"' + test["sig"].encode() + b'"'
            msg = bytes.fromhex(test["msg"])
            for keyval in keyvals:
                records.append(
                    struct.pack("<IIIII", test["tcId"], expected[test["result"]],
                                len(keyval), len(sig), len(msg))
                    + pad(keyval) + pad(sig) + pad(msg))
    case = b"FWWY" + struct.pack("<II", 1, len(records)) + b"".join(records)
    open(out, "wb").write(case)


def main():
    kind, *args = sys.argv[1:] or [""]
    if kind == "verify" and len(args) >= 5:
        verify_case(*args)
    elif kind == "crypto" and len(args) in (2, 3):
        crypto_case(*args)
    elif kind == "wycheproof" and len(args) == 2:
        wycheproof_case(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
