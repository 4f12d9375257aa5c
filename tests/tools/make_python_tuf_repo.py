#!/usr/bin/env python3
"""Build a reference TUF repository with python-tuf 7's Metadata API.

Writes tests/data/python-tuf-repo/:
  metadata/1.root.json 1.targets.json 1.snapshot.json 1.board-a.json timestamp.json
  targets/<dir>/<sha256>.<basename>   consistent-snapshot target names
  files/<target path>                 plain copies of the targets
  keys/<role>-<n>.pem (PKCS#8, PRIVATE, test only) and <role>-<n>.pub.pem (SPKI)
  keys/keyids.json                    file name -> keyid and key object

Keys are derived from fixed labels, so keyids are stable across runs; ECDSA
signatures (and therefore the metadata bytes that contain them) are
randomised and differ on every run.

Usage (from the repository root):
  .venv/bin/python tests/tools/make_python_tuf_repo.py
  .venv/bin/python tests/tools/check_python_tuf_repo.py   # ngclient self-check
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "tests" / "data" / "python-tuf-repo"
EXPIRES = datetime(2099, 1, 1, tzinfo=timezone.utc)
SPEC_VERSION = "1.0.31"  # python-tuf 7's default, written explicitly for clarity
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# name -> key type; the role is the part before the last '-'
KEYS = {
    "root-1": "ed25519",
    "root-2": "ecdsa",
    "targets-1": "ed25519",
    "targets-2": "ecdsa",
    "targets-3": "ed25519",  # listed in root, but does NOT sign targets
    "snapshot-1": "ed25519",
    "timestamp-1": "ecdsa",
    "board-a-1": "ed25519",
}

APP_PATH = "fw/app-1.0.0.bin"
BOARD_PATH = "board-a/fw-1.0.0.bin"


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"fwsign-test-fixture:python-tuf-repo:{label}".encode()).digest()


def make_signer(name: str) -> CryptoSigner:
    if KEYS[name] == "ed25519":
        priv = ed25519.Ed25519PrivateKey.from_private_bytes(_seed(name))
    else:
        scalar = int.from_bytes(_seed(name), "big") % (P256_ORDER - 1) + 1
        priv = ec.derive_private_key(scalar, ec.SECP256R1())
    # CryptoSigner computes the public SSlibKey (and default keyid) itself,
    # exactly like CryptoSigner.generate_ed25519()/generate_ecdsa() do.
    return CryptoSigner(priv)


def firmware(label: str, size: int = 4096) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}:{counter}".encode()).digest()
        counter += 1
    return out[:size]


def fw_custom(version: str, hwid: str, counter: int) -> dict:
    return {"fwsign": {"hardware_ids": [hwid], "version": version, "security_counter": counter}}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    for sub in ("metadata", "targets", "files", "keys"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)

    signers = {name: make_signer(name) for name in KEYS}
    pub = {name: s.public_key for name, s in signers.items()}

    # ---- keys -------------------------------------------------------------
    keyinfo = {}
    for name, signer in signers.items():
        (out / "keys" / f"{name}.pem").write_bytes(signer.private_bytes)
        spki = signer.public_key._crypto_key().public_bytes(  # noqa: SLF001
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )
        (out / "keys" / f"{name}.pub.pem").write_bytes(spki)
        keyinfo[f"{name}.pem"] = {
            "keyid": signer.public_key.keyid,
            "key": signer.public_key.to_dict(),
            "public_pem": f"{name}.pub.pem",
        }

    # ---- targets files ----------------------------------------------------
    app = firmware("app-1.0.0")
    board = firmware("board-a-fw-1.0.0")
    app_tf = TargetFile.from_data(APP_PATH, app, ["sha256", "sha512"])
    app_tf.unrecognized_fields["custom"] = fw_custom("1.0.0", "evc-a1", 3)
    board_tf = TargetFile.from_data(BOARD_PATH, board, ["sha256", "sha512"])
    board_tf.unrecognized_fields["custom"] = fw_custom("1.0.0", "board-a", 1)
    for tf, data in ((app_tf, app), (board_tf, board)):
        plain = out / "files" / tf.path
        plain.parent.mkdir(parents=True, exist_ok=True)
        plain.write_bytes(data)
        # ngclient: consistent snapshot + prefix_targets_with_hash -> first hash
        # listed (sha256 here) prefixed to the basename
        hashed = out / "targets" / tf.get_prefixed_paths()[0]
        hashed.parent.mkdir(parents=True, exist_ok=True)
        hashed.write_bytes(data)

    # ---- root -------------------------------------------------------------
    root = Root(version=1, spec_version=SPEC_VERSION, expires=EXPIRES, consistent_snapshot=True)
    for name in KEYS:
        role = name.rsplit("-", 1)[0]
        if role != "board-a":
            root.add_key(pub[name], role)
    root.roles["root"].threshold = 2
    root.roles["targets"].threshold = 2

    # ---- targets + delegation -----------------------------------------------
    targets = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    targets.targets[APP_PATH] = app_tf
    targets.delegations = Delegations(keys={}, roles={})
    targets.delegations.roles["board-a"] = DelegatedRole(
        name="board-a", keyids=[], threshold=1, terminating=False, paths=["board-a/*"]
    )
    targets.add_key(pub["board-a-1"], "board-a")

    board_a = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    board_a.targets[BOARD_PATH] = board_tf

    # ---- snapshot / timestamp -----------------------------------------------
    snapshot = Snapshot(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    snapshot.meta["targets.json"] = MetaFile(version=1)
    snapshot.meta["board-a.json"] = MetaFile(version=1)

    def write(md: Metadata, filename: str) -> bytes:
        path = out / "metadata" / filename
        md.to_file(str(path))  # python-tuf 7 default: JSONSerializer(compact=True)
        return path.read_bytes()

    md_root = Metadata(root)
    md_root.sign(signers["root-1"], append=True)
    md_root.sign(signers["root-2"], append=True)
    write(md_root, "1.root.json")

    md_targets = Metadata(targets)
    md_targets.sign(signers["targets-1"], append=True)
    md_targets.sign(signers["targets-2"], append=True)
    write(md_targets, "1.targets.json")

    md_board = Metadata(board_a)
    md_board.sign(signers["board-a-1"])
    write(md_board, "1.board-a.json")

    md_snapshot = Metadata(snapshot)
    md_snapshot.sign(signers["snapshot-1"])
    snapshot_bytes = write(md_snapshot, "1.snapshot.json")

    timestamp = Timestamp(
        version=1,
        spec_version=SPEC_VERSION,
        expires=EXPIRES,
        snapshot_meta=MetaFile.from_data(1, snapshot_bytes, ["sha256"]),
    )
    md_timestamp = Metadata(timestamp)
    md_timestamp.sign(signers["timestamp-1"])
    write(md_timestamp, "timestamp.json")

    # record which keys signed what
    signed_by = {
        "root": ["root-1", "root-2"],
        "targets": ["targets-1", "targets-2"],
        "snapshot": ["snapshot-1"],
        "timestamp": ["timestamp-1"],
        "board-a": ["board-a-1"],
    }
    for role, names in signed_by.items():
        for n in names:
            keyinfo[f"{n}.pem"].setdefault("signed", []).append(role)
    for n in KEYS:
        keyinfo[f"{n}.pem"].setdefault("signed", [])
        keyinfo[f"{n}.pem"]["role"] = n.rsplit("-", 1)[0]
    (out / "keys" / "keyids.json").write_text(json.dumps(keyinfo, indent=2, sort_keys=True) + "\n")

    # ---- self-check with the Metadata API ------------------------------------
    loaded_root = Metadata[Root].from_file(str(out / "metadata" / "1.root.json"))
    loaded_root.signed.verify_delegate("root", loaded_root.signed_bytes, loaded_root.signatures)
    for role, fname in (("targets", "1.targets.json"), ("snapshot", "1.snapshot.json"),
                        ("timestamp", "timestamp.json")):
        md = Metadata.from_file(str(out / "metadata" / fname))
        loaded_root.signed.verify_delegate(role, md.signed_bytes, md.signatures)
    md_t = Metadata[Targets].from_file(str(out / "metadata" / "1.targets.json"))
    md_b = Metadata.from_file(str(out / "metadata" / "1.board-a.json"))
    md_t.signed.verify_delegate("board-a", md_b.signed_bytes, md_b.signatures)
    print(f"wrote python-tuf repository to {out}")


if __name__ == "__main__":
    main()
