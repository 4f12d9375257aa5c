#!/usr/bin/env python3
"""Build TUF repositories with python-tuf 7's Metadata API for the client
comparison tests (tests/tests/all/client_python_tuf.rs).

Usage:
  make_client_repos.py OUT [NAME...]      (default: every repository)

Writes OUT/<NAME>/ for each repository:
  metadata/   as a python-tuf repository publishes it with consistent
              snapshots: <N>.root.json, timestamp.json,
              <N>.<quote(role)>.json
  targets/    <dir>/<sha256>.<basename> for every target
  trusted-root.json   the root a client starts from (1.root.json)
  scenario.json       {"targets": [names to download], "expect_ok": bool}

Repositories:
  delegations        nested delegations (one role name with a space, a
                     slash and a '#'), a terminating delegation, hashes and
                     lengths in snapshot and timestamp meta
  rotation           root v1 -> v2 -> v3, root keys and threshold rotated,
                     timestamp key rotated in v2, snapshot key in v3
  rotation-bad       as rotation, but v3 lacks v2's root threshold
  expired-timestamp  a timestamp that expired in 2000
  bad-snapshot-hash  the timestamp lists a snapshot hash that does not match

Keys are derived from fixed labels (stable key IDs); Ed25519 signatures are
deterministic, ECDSA ones are not. Everything but the expired timestamp
expires in 2099, so the repositories can be built at test time or kept.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from urllib import parse

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
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

EXPIRES = datetime(2099, 1, 1, tzinfo=timezone.utc)
EXPIRED = datetime(2000, 1, 1, tzinfo=timezone.utc)
SPEC_VERSION = "1.0.31"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def signer(label: str, kind: str = "ed25519") -> CryptoSigner:
    seed = hashlib.sha256(f"fwsign-test-fixture:client-repos:{label}".encode()).digest()
    if kind == "ed25519":
        return CryptoSigner(ed25519.Ed25519PrivateKey.from_private_bytes(seed))
    if kind == "rsa":
        # Not derived from the label: RSA key generation takes no seed. The
        # repository is made at test time, so nothing depends on the bytes.
        from cryptography.hazmat.primitives.asymmetric import rsa
        return CryptoSigner(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    scalar = int.from_bytes(seed, "big") % (P256_ORDER - 1) + 1
    return CryptoSigner(ec.derive_private_key(scalar, ec.SECP256R1()))


def content(label: str, size: int = 2048) -> bytes:
    out = b""
    i = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}:{i}".encode()).digest()
        i += 1
    return out[:size]


class Repo:
    """One repository being written."""

    def __init__(self, out: Path, name: str) -> None:
        self.dir = out / name
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "metadata").mkdir(parents=True)
        (self.dir / "targets").mkdir(parents=True)
        self.names: list[str] = []

    def target(self, path: str, data: bytes, hashes=("sha256",)) -> TargetFile:
        tf = TargetFile.from_data(path, data, list(hashes))
        dest = self.dir / "targets" / tf.get_prefixed_paths()[0]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        self.names.append(path)
        return tf

    def write(self, signed, signers, role: str | None = None, versioned=True) -> bytes:
        md = Metadata(signed)
        for s in signers:
            md.sign(s, append=True)
        role = role or signed.type
        name = parse.quote(role, safe="")
        filename = f"{signed.version}.{name}.json" if versioned else f"{name}.json"
        path = self.dir / "metadata" / filename
        md.to_file(str(path))
        return path.read_bytes()

    def finish(self, expect_ok: bool) -> None:
        shutil.copyfile(self.dir / "metadata" / "1.root.json", self.dir / "trusted-root.json")
        scenario = {"targets": self.names, "expect_ok": expect_ok}
        (self.dir / "scenario.json").write_text(json.dumps(scenario, indent=2) + "\n")


def top_level_root(keys: dict[str, list[CryptoSigner]], version: int = 1) -> Root:
    root = Root(version=version, spec_version=SPEC_VERSION, expires=EXPIRES, consistent_snapshot=True)
    for role, signers in keys.items():
        for s in signers:
            root.add_key(s.public_key, role)
    return root


def snapshot_and_timestamp(repo: Repo, meta: dict[str, MetaFile], snap_signer, ts_signer,
                           ts_expires=EXPIRES, bad_hash=False) -> None:
    snapshot = Snapshot(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    snapshot.meta.update(meta)
    snapshot_bytes = repo.write(snapshot, [snap_signer])
    snapshot_meta = MetaFile.from_data(1, snapshot_bytes, ["sha256"])
    if bad_hash:
        snapshot_meta = MetaFile.from_data(1, snapshot_bytes + b" ", ["sha256"])
    timestamp = Timestamp(version=1, spec_version=SPEC_VERSION, expires=ts_expires,
                          snapshot_meta=snapshot_meta)
    repo.write(timestamp, [ts_signer], versioned=False)


def simple(out: Path, name: str, ts_expires=EXPIRES, bad_hash=False, kind="ed25519",
           expect_ok=False) -> None:
    repo = Repo(out, name)
    k = {r: signer(f"{name}:{r}", kind) for r in ("root", "targets", "snapshot", "timestamp")}
    root = top_level_root({r: [s] for r, s in k.items()})
    repo.write(root, [k["root"]])
    targets = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    targets.targets["fw.bin"] = repo.target("fw.bin", content(f"{name}:fw"))
    repo.write(targets, [k["targets"]])
    snapshot_and_timestamp(repo, {"targets.json": MetaFile(version=1)}, k["snapshot"],
                           k["timestamp"], ts_expires=ts_expires, bad_hash=bad_hash)
    repo.finish(expect_ok=expect_ok)


def delegations(out: Path) -> None:
    repo = Repo(out, "delegations")
    k = {
        "root": signer("d:root"),
        "targets": signer("d:targets", "ecdsa"),
        "snapshot": signer("d:snapshot"),
        "timestamp": signer("d:timestamp"),
    }
    root = top_level_root({r: [s] for r, s in k.items()})
    repo.write(root, [k["root"]])

    board, nested, vendor, stop = (signer(f"d:{n}") for n in ("board-a", "nested", "vendor", "stop"))
    nested_name = "board a/rev#2"

    targets = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    targets.targets["fw/app.bin"] = repo.target("fw/app.bin", content("app"), ("sha256", "sha512"))
    targets.delegations = Delegations(keys={}, roles={})
    targets.delegations.roles["board-a"] = DelegatedRole(
        name="board-a", keyids=[], threshold=1, terminating=False, paths=["board-a/*"])
    targets.delegations.roles["stop"] = DelegatedRole(
        name="stop", keyids=[], threshold=1, terminating=True, paths=["stop/*"])
    targets.delegations.roles["vendor"] = DelegatedRole(
        name="vendor", keyids=[], threshold=1, terminating=False, paths=["*"])
    targets.add_key(board.public_key, "board-a")
    targets.add_key(stop.public_key, "stop")
    targets.add_key(vendor.public_key, "vendor")

    board_a = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    board_a.targets["board-a/fw.bin"] = repo.target("board-a/fw.bin", content("board-a"))
    board_a.delegations = Delegations(keys={}, roles={})
    board_a.delegations.roles[nested_name] = DelegatedRole(
        name=nested_name, keyids=[], threshold=1, terminating=False, paths=["board-a/rev2-*"])
    board_a.add_key(nested.public_key, nested_name)

    rev2 = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    rev2.targets["board-a/rev2-fw.bin"] = repo.target("board-a/rev2-fw.bin", content("rev2"))

    stop_role = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    stop_role.targets["stop/fw.bin"] = repo.target("stop/fw.bin", content("stop"))

    vendor_role = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    vendor_role.targets["vendor.bin"] = repo.target("vendor.bin", content("vendor"))

    meta = {"targets.json": MetaFile.from_data(1, repo.write(targets, [k["targets"]]), ["sha256"])}
    roles = (
        ("board-a", board_a, board),
        (nested_name, rev2, nested),
        ("stop", stop_role, stop),
        ("vendor", vendor_role, vendor),
    )
    for role, md, s in roles:
        data = repo.write(md, [s], role=role)
        meta[f"{role}.json"] = MetaFile.from_data(1, data, ["sha256", "sha512"])
    snapshot_and_timestamp(repo, meta, k["snapshot"], k["timestamp"])
    repo.finish(expect_ok=True)


def rotation(out: Path, name: str, bad: bool) -> None:
    repo = Repo(out, name)
    r1, r3, r4 = (signer(f"{name}:root-{i}") for i in (1, 3, 4))
    r2 = signer(f"{name}:root-2", "ecdsa")
    ts1, ts2 = signer(f"{name}:ts-1"), signer(f"{name}:ts-2")
    sn1, sn2 = signer(f"{name}:sn-1"), signer(f"{name}:sn-2")
    tg = signer(f"{name}:targets")

    v1 = top_level_root({"root": [r1, r2], "timestamp": [ts1], "snapshot": [sn1], "targets": [tg]})
    v1.roles["root"].threshold = 2
    repo.write(v1, [r1, r2])

    v2 = top_level_root({"root": [r2, r3], "timestamp": [ts2], "snapshot": [sn1], "targets": [tg]},
                        version=2)
    v2.roles["root"].threshold = 2
    repo.write(v2, [r1, r2, r3])

    v3 = top_level_root({"root": [r4], "timestamp": [ts2], "snapshot": [sn2], "targets": [tg]},
                        version=3)
    repo.write(v3, [r2, r4] if bad else [r2, r3, r4])

    targets = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    targets.targets["fw.bin"] = repo.target("fw.bin", content(f"{name}:fw"))
    repo.write(targets, [tg])
    snapshot_and_timestamp(repo, {"targets.json": MetaFile(version=1)}, sn2, ts2)
    repo.finish(expect_ok=not bad)


BUILDERS = {
    "delegations": delegations,
    "rotation": lambda out: rotation(out, "rotation", bad=False),
    "rotation-bad": lambda out: rotation(out, "rotation-bad", bad=True),
    "expired-timestamp": lambda out: simple(out, "expired-timestamp", ts_expires=EXPIRED),
    "bad-snapshot-hash": lambda out: simple(out, "bad-snapshot-hash", bad_hash=True),
    # Every role signed with RSA-PSS (rsassa-pss-sha256), as some real
    # repositories are.
    "rsa-keys": lambda out: simple(out, "rsa-keys", kind="rsa", expect_ok=True),
}


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    names = sys.argv[2:] or list(BUILDERS)
    for name in names:
        BUILDERS[name](out)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
