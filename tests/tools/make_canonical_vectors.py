#!/usr/bin/env python3
"""Generate golden canonical-JSON vectors with securesystemslib.

Writes tests/data/canonical-json/vectors.json: a JSON array of

  {"name", "description", "input_b64", "canonical_b64"}
      input fwsign must accept; canonical_b64 is exactly what
      securesystemslib.formats.encode_canonical(json.loads(input)) produced,
      encoded as UTF-8 (the same bytes python-tuf signs, see
      tuf.api.serialization.json.CanonicalJSONSerializer).

  {"name", "description", "input_b64", "reject", ...}
      input fwsign must reject; "reject" is a short reason tag. What the
      Python peers did with it is recorded in "securesystemslib_b64" (it
      produced output anyway) or "securesystemslib_error" (it failed, and
      at which stage: decode / json.loads / encode_canonical / utf8-encode).

Usage (from the repository root):
  .venv/bin/python tests/tools/make_canonical_vectors.py [OUTPUT]

The output is deterministic: the keys used in the PEM and TUF vectors are
derived from fixed labels, so re-running produces identical bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Root,
    TargetFile,
    Targets,
)
from tuf.api.serialization.json import CanonicalJSONSerializer

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "tests" / "data" / "canonical-json" / "vectors.json"

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"fwsign-test-fixture:{label}".encode()).digest()


def ed25519_key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_seed(label))


def p256_key(label: str) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(_seed(label), "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def dumps(obj, style: str) -> bytes:
    """Serialize like real tools do (non-canonical)."""
    if style == "indent2-ascii":
        text = json.dumps(obj, indent=2, ensure_ascii=True)
    elif style == "indent4-utf8":
        text = json.dumps(obj, indent=4, ensure_ascii=False)
    elif style == "compact-ascii":
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    elif style == "compact-utf8":
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    elif style == "default-utf8":  # json.dumps defaults: ", " and ": "
        text = json.dumps(obj, ensure_ascii=False)
    elif style == "python-tuf":  # tuf JSONSerializer(compact=False)
        text = json.dumps(obj, indent=1, separators=(",", ": "), sort_keys=True)
    else:
        raise ValueError(style)
    return text.encode("utf-8")


def run_peer(data: bytes, strict: bool = True) -> tuple[bytes | None, str | None]:
    """What securesystemslib / python-tuf do with `data`.

    Mirrors tuf's JSONDeserializer (strict UTF-8 decode + json.loads) and
    CanonicalJSONSerializer (encode_canonical(...).encode("utf-8")).
    Returns (canonical_bytes, None) or (None, error_description).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"utf-8 decode: {type(e).__name__}: {e}"
    try:
        obj = json.loads(text, strict=strict)
    except ValueError as e:
        return None, f"json.loads: {type(e).__name__}: {e}"
    try:
        canon = encode_canonical(obj)
    except Exception as e:  # securesystemslib.exceptions.FormatError
        return None, f"encode_canonical: {type(e).__name__}: {e}"
    assert isinstance(canon, str), type(canon)  # 1.x returns str
    try:
        return canon.encode("utf-8"), None
    except UnicodeEncodeError as e:
        return None, f"utf-8 encode of encode_canonical output: {type(e).__name__}: {e}"


vectors: list[dict] = []


def accept(name: str, description: str, data: bytes, strict: bool = True) -> None:
    canon, err = run_peer(data, strict)
    if err is not None:
        raise SystemExit(f"{name}: securesystemslib failed: {err}")
    vectors.append(
        {
            "name": name,
            "description": description,
            "input_b64": b64(data),
            "canonical_b64": b64(canon),
        }
    )


def reject(name: str, description: str, data: bytes, tag: str, note: str | None = None) -> None:
    canon, err = run_peer(data)
    v = {"name": name, "description": description, "input_b64": b64(data), "reject": tag}
    if canon is not None:
        v["securesystemslib_b64"] = b64(canon)
    else:
        v["securesystemslib_error"] = err
    if note:
        v["note"] = note
    vectors.append(v)


def tuf_root_signed() -> dict:
    keys = [
        SSlibKey.from_crypto(ed25519_key("canon-root-1").public_key()),
        SSlibKey.from_crypto(p256_key("canon-root-2").public_key()),
        SSlibKey.from_crypto(ed25519_key("canon-targets-1").public_key()),
        SSlibKey.from_crypto(p256_key("canon-targets-2").public_key()),
        SSlibKey.from_crypto(ed25519_key("canon-snapshot-1").public_key()),
        SSlibKey.from_crypto(p256_key("canon-timestamp-1").public_key()),
    ]
    root = Root(
        version=1,
        expires=datetime(2099, 1, 1, tzinfo=timezone.utc),
        consistent_snapshot=True,
    )
    root.add_key(keys[0], "root")
    root.add_key(keys[1], "root")
    root.add_key(keys[2], "targets")
    root.add_key(keys[3], "targets")
    root.add_key(keys[4], "snapshot")
    root.add_key(keys[5], "timestamp")
    root.roles["root"].threshold = 2
    root.roles["targets"].threshold = 2
    d = root.to_dict()
    # cross-check: exactly the bytes python-tuf signs
    assert CanonicalJSONSerializer().serialize(root) == encode_canonical(d).encode()
    return d


def tuf_targets_signed() -> dict:
    board_key = SSlibKey.from_crypto(ed25519_key("canon-board-a-1").public_key())
    targets = Targets(version=3, expires=datetime(2099, 1, 1, tzinfo=timezone.utc))
    data = bytes(range(256)) * 16
    tf = TargetFile.from_data("fw/app-1.0.0.bin", data, ["sha256", "sha512"])
    tf.unrecognized_fields["custom"] = {
        "fwsign": {"hardware_ids": ["evc-a1"], "version": "1.0.0", "security_counter": 3}
    }
    targets.targets[tf.path] = tf
    targets.delegations = Delegations(
        keys={board_key.keyid: board_key},
        roles={
            "board-a": DelegatedRole(
                name="board-a",
                keyids=[board_key.keyid],
                threshold=1,
                terminating=False,
                paths=["board-a/*"],
            )
        },
    )
    d = targets.to_dict()
    assert CanonicalJSONSerializer().serialize(targets) == encode_canonical(d).encode()
    return d


def build() -> None:
    # ---- accepted inputs -------------------------------------------------
    accept(
        "nested-map-sorting",
        "nested objects whose keys must be sorted at every level; arrays keep order",
        dumps(
            {
                "zeta": {"y": 1, "x": [{"b": 1, "a": 2}, {"d": {"f": None, "e": True}}]},
                "alpha": {"c": [], "b": {}, "a": "s"},
                "mid": [3, 1, 2],
            },
            "indent2-ascii",
        ),
    )
    key_obj = {
        "b": 1, "a": 2, "B": 3, "A": 4,               # case only
        "ab": 5, "abc": 6, "a\u0000": 7, "a0": 8, "": 9,  # prefixes, empty key
        "\u00e9": 10, "e\u0301": 11, "\u00e4": 12, "z": 13,  # NFC vs NFD, no normalisation
        "\u4e2d": 14,                                  # CJK
        "\ue000": 15, "\uff21": 16,                    # BMP above the surrogate range
        "\U0001f600": 17, "\U0001d11e": 18,            # astral: emoji, G clef
        "\u007f": 19, "~": 20,
    }
    desc_keys = (
        "key order is by Unicode code point (= UTF-8 byte order), NOT UTF-16 order: "
        "U+E000 and U+FF21 sort before U+1D11E/U+1F600; no Unicode normalisation; "
        "keys that are prefixes of others and case-only differences"
    )
    accept("key-sorting-ascii-escaped", desc_keys + "; input uses \\uXXXX escapes incl. surrogate pairs",
           dumps(key_obj, "indent2-ascii"))
    accept("key-sorting-raw-utf8", desc_keys + "; input is raw UTF-8, compact",
           dumps(key_obj, "compact-utf8"))

    controls = [chr(c) for c in range(0x20)] + ["\u007f"]
    accept(
        "control-characters-each",
        "every U+0000..U+001F and U+007F as its own string; canonical form writes them raw "
        "(only '\"' and '\\\\' are escaped); input uses \\uXXXX and \\b\\t\\n\\f\\r escapes",
        dumps({"controls": controls}, "indent2-ascii"),
    )
    accept(
        "control-characters-joined",
        "all control characters in one string value and in a key",
        dumps({"k\u0001\u001f": "".join(controls)}, "compact-ascii"),
    )
    accept(
        "control-characters-handwritten-escapes",
        "hand-written escapes: \\u007F and \\u001F upper-case hex, \\/ solidus, \\u0000",
        b'{ "s" : "x\\u007Fy\\u001Fz\\/w\\u0000", "t":"\\b\\f\\n\\r\\t" }',
    )
    accept(
        "quote-and-backslash",
        "'\"' and '\\\\' are the only characters escaped in canonical output",
        dumps({"q": 'say "hi"', "b": "C:\\path\\to", "both": '\\"\\\\"', '"key"': "\\"}, "indent4-utf8"),
    )
    pem = (
        p256_key("canon-pem")
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    accept(
        "pem-public-key",
        "P-256 SPKI PEM with '\\n' line breaks (raw 0x0A in canonical output), as in TUF ecdsa keyval",
        dumps({"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256", "keyval": {"public": pem}}, "indent2-ascii"),
    )
    text_obj = {"latin": "caf\u00e9 na\u00efve", "cjk": "\u56fa\u4ef6\u7b7e\u540d",
                "emoji": "\U0001f680 fw \U0001f512", "mixed": "\u00e9\U0001f600\u4e2d\u007f~"}
    accept("non-ascii-escaped", "non-ASCII via \\uXXXX escapes (surrogate pairs for emoji); output is raw UTF-8",
           dumps(text_obj, "indent2-ascii"))
    accept("non-ascii-raw", "same content as non-ascii-escaped, input raw UTF-8", dumps(text_obj, "default-utf8"))
    accept("empty-object", "top-level empty object, with whitespace", b" {\n}\n")
    accept("empty-array", "top-level empty array", b"[ ]")
    accept("empty-string", "top-level empty string", b' ""')
    accept(
        "nested-arrays-and-literals",
        "nested arrays, empty containers, true/false/null",
        dumps({"a": [[], [[]], [1, [2, [3, {}]]], [True, False, None]], "t": True, "f": False, "n": None},
              "indent2-ascii"),
    )
    accept("top-level-true", "top-level literal", b"true")
    accept("top-level-null", "top-level literal", b"null\n")
    accept("top-level-integer", "top-level integer", b" 42 ")
    accept(
        "integers",
        "0, -1, i64 min, i64 max, u64 max",
        dumps({"zero": 0, "neg_one": -1, "i64_min": -9223372036854775808, "i64_max": 9223372036854775807,
               "u64_max": 18446744073709551615, "list": [0, -1, 1, 255, 4294967296]}, "indent2-ascii"),
    )
    accept("integers-array-compact", "integer edge values, compact",
           b"[0,-1,-9223372036854775808,9223372036854775807,18446744073709551615]")
    accept("whitespace-variety", "tabs, CR LF and spaces between tokens",
           b'{\r\n\t"b" :\t[ 1 ,\r\n2 ] ,\n  "a":\t{ } }\r\n')
    accept("tuf-root-signed", "realistic TUF root 'signed' object (python-tuf Root.to_dict()), as python-tuf indents it",
           dumps(tuf_root_signed(), "python-tuf"))
    accept("tuf-targets-signed",
           "TUF targets 'signed' object with custom fwsign fields and a delegation, indent=2",
           dumps(tuf_targets_signed(), "indent2-ascii"))

    # ---- inputs fwsign must reject --------------------------------------
    reject("integer-above-u64", "u64 max + 1", b'{"n": 18446744073709551616}', "integer-out-of-range")
    reject("integer-below-i64", "i64 min - 1", b'{"n": -9223372036854775809}', "integer-out-of-range")
    reject("float-fraction", "a float 1.5", b'{"n": 1.5}', "float")
    reject("float-exponent", "1e3 (float syntax even though integral)", b'{"n": 1e3}', "float")
    reject("float-integral", "1.0 (float syntax)", b"[1.0]", "float")
    reject(
        "duplicate-key", "duplicate object keys", b'{"a":1,"a":2}', "duplicate-key",
        note="json.loads silently keeps the last value; encode_canonical never sees the duplicate",
    )
    reject(
        "duplicate-key-after-unescape", "keys equal after unescaping (\\u0061 == a)", b'{"a":1,"\\u0061":2}',
        "duplicate-key", note="json.loads silently keeps the last value",
    )
    reject(
        "lone-high-surrogate", "lone high surrogate escape", b'"\\ud800"', "lone-surrogate",
        note="json.loads accepts it and encode_canonical returns a str, but UTF-8 encoding fails",
    )
    reject("lone-low-surrogate", "lone low surrogate escape", b'"\\udc00"', "lone-surrogate")
    reject("reversed-surrogates", "low surrogate followed by high surrogate", b'["\\udc00\\ud800"]', "lone-surrogate")
    reject("high-surrogate-then-bmp", "high surrogate followed by a non-surrogate escape",
           b'{"k": "\\ud83d\\u0041"}', "lone-surrogate")
    reject("lone-surrogate-in-key", "lone high surrogate in an object key", b'{"\\ud800": 1}', "lone-surrogate")
    reject("trailing-data", "trailing garbage after the value", b'{"a": 1} x', "trailing-data")
    reject("trailing-second-value", "a second JSON value after the first", b"{}{}", "trailing-data")
    reject("invalid-utf8", "invalid UTF-8 byte 0xff inside a string", b'{"a": "x\xffy"}', "invalid-utf8")
    reject("invalid-utf8-overlong", "overlong UTF-8 encoding of '/' (C0 AF)", b'["\xc0\xaf"]', "invalid-utf8")
    reject("invalid-utf8-encoded-surrogate", "CESU-style UTF-8 encoded surrogate ED A0 80",
           b'["\xed\xa0\x80"]', "invalid-utf8")
    # Canonical JSON itself carries control characters raw (PEM newlines), so
    # fwsign reads raw control characters in strings as json.loads(strict=False)
    # does; otherwise it could not read back its own canonical files.
    accept("raw-control-char", "unescaped U+000A and U+0001 inside a string, as canonical JSON writes them",
           b'{"a": "line1\nline2\x01"}', strict=False)
    reject("nan-literal", "NaN is not JSON (Python's json.loads accepts it as a float)", b"[NaN]", "invalid-json")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    build()
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), "duplicate vector names"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(vectors, indent=2, ensure_ascii=True) + "\n")
    print(f"wrote {len(vectors)} vectors to {out}")


if __name__ == "__main__":
    main()
