#!/usr/bin/env python3
"""python-tuf 7's side of bench/scale: the same release job fwsign does.

  python_tuf_job.py keys KEYDIR                  make the keys (not timed)
  python_tuf_job.py create KEYDIR SRCDIR REPO    the whole job
  python_tuf_job.py add-one KEYDIR FILE REPO     one more target, published
  python_tuf_job.py refresh URL ROOT WORKDIR     ngclient refresh over HTTP

Equal work to fwsign's job, with python-tuf's Metadata API as its
documentation shows it: every file of SRCDIR (recursively, names relative to
it) is hashed (SHA-256) and copied to its consistent-snapshot name
targets/<sha256>.<name>; root, targets, snapshot and timestamp are built,
signed with ECDSA P-256 keys (fwsign's default key type; one key per role,
the online key signing snapshot and timestamp, as in fwsign's job) and
written as metadata/1.root.json, N.targets.json, N.snapshot.json and
timestamp.json. Like fwsign, targets carry fwsign's firmware fields under
`custom`. python-tuf does not fsync; that is its default behaviour and it is
measured as it is.

`add-one` reads the current timestamp, snapshot and targets from REPO,
adds FILE, bumps targets, snapshot and timestamp, signs and writes them.
`refresh` runs ngclient's Updater.refresh() against URL (URL/metadata/,
URL/targets/; bench/scale serves the repository with `python -m
http.server` on 127.0.0.1, the same server `fwsign client` fetches from),
trusting ROOT, with an empty cache in WORKDIR.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

ROLES = ("root", "targets", "online")
CUSTOM = {"fwsign": {"hardware_ids": ["bench"], "version": "1.0.0", "security_counter": 1}}
SERIALIZER = JSONSerializer(compact=True)


def keys(keydir: Path) -> None:
    keydir.mkdir(parents=True, exist_ok=True)
    for role in ROLES:
        priv = ec.generate_private_key(ec.SECP256R1())
        pem = priv.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (keydir / f"{role}.pem").write_bytes(pem)


def load_signers(keydir: Path) -> dict[str, CryptoSigner]:
    out = {}
    for role in ROLES:
        priv = serialization.load_pem_private_key((keydir / f"{role}.pem").read_bytes(), None)
        out[role] = CryptoSigner(priv)
    return out


def expiry(days: int) -> datetime:
    return (datetime.now(timezone.utc) + timedelta(days=days)).replace(microsecond=0)


def stage_target(path: Path, name: str, targets_dir: Path) -> TargetFile:
    """Hash the file once, then copy it to its consistent-snapshot name."""
    data = path.read_bytes()
    target = TargetFile.from_data(name, data, ["sha256"])
    target.unrecognized_fields["custom"] = CUSTOM
    digest = target.hashes["sha256"]
    head, _, base = name.rpartition("/")
    dest = targets_dir / head / f"{digest}.{base}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return target


def write(md: Metadata, path: Path) -> None:
    path.write_bytes(md.to_bytes(SERIALIZER))


def publish_snapshot_timestamp(
    repo: Path, signers: dict, targets_version: int, snap_version: int, ts_version: int
) -> None:
    snapshot = Metadata(Snapshot(version=snap_version, expires=expiry(7)))
    snapshot.signed.meta["targets.json"] = MetaFile(version=targets_version)
    snapshot.sign(signers["online"])
    snap_bytes = snapshot.to_bytes(SERIALIZER)
    (repo / "metadata" / f"{snap_version}.snapshot.json").write_bytes(snap_bytes)
    timestamp = Metadata(Timestamp(version=ts_version, expires=expiry(1)))
    timestamp.signed.snapshot_meta = MetaFile(
        version=snap_version,
        length=len(snap_bytes),
        hashes={"sha256": hashlib.sha256(snap_bytes).hexdigest()},
    )
    timestamp.sign(signers["online"])
    write(timestamp, repo / "metadata" / "timestamp.json")


def create(keydir: Path, src: Path, repo: Path) -> None:
    signers = load_signers(keydir)
    (repo / "metadata").mkdir(parents=True)
    targets_dir = repo / "targets"
    targets_dir.mkdir()

    root = Metadata(Root(expires=expiry(365), consistent_snapshot=True))
    for role, key in (("root", "root"), ("targets", "targets"),
                      ("snapshot", "online"), ("timestamp", "online")):
        root.signed.add_key(signers[key].public_key, role)
    root.sign(signers["root"])
    write(root, repo / "metadata" / "1.root.json")

    targets = Metadata(Targets(expires=expiry(90)))
    for dirpath, _dirs, files in os.walk(src):
        for f in files:
            path = Path(dirpath) / f
            name = path.relative_to(src).as_posix()
            targets.signed.targets[name] = stage_target(path, name, targets_dir)
    targets.sign(signers["targets"])
    write(targets, repo / "metadata" / "1.targets.json")
    publish_snapshot_timestamp(repo, signers, 1, 1, 1)


def add_one(keydir: Path, file: Path, repo: Path) -> None:
    signers = load_signers(keydir)
    meta = repo / "metadata"
    timestamp = Metadata[Timestamp].from_file(str(meta / "timestamp.json"))
    snap_version = timestamp.signed.snapshot_meta.version
    snapshot = Metadata[Snapshot].from_file(str(meta / f"{snap_version}.snapshot.json"))
    targets_version = snapshot.signed.meta["targets.json"].version
    targets = Metadata[Targets].from_file(str(meta / f"{targets_version}.targets.json"))
    targets.signed.targets[file.name] = stage_target(file, file.name, repo / "targets")
    targets.signed.version += 1
    targets.signed.expires = expiry(90)
    targets.signatures.clear()
    targets.sign(signers["targets"])
    write(targets, meta / f"{targets.signed.version}.targets.json")
    publish_snapshot_timestamp(
        repo, signers, targets.signed.version, snap_version + 1, timestamp.signed.version + 1
    )


def refresh(url: str, root: Path, workdir: Path) -> None:
    from tuf.ngclient import Updater, UpdaterConfig

    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "metadata").mkdir(parents=True)
    (workdir / "targets").mkdir()
    url = url.rstrip("/")
    updater = Updater(
        str(workdir / "metadata"), url + "/metadata/", str(workdir / "targets"),
        url + "/targets/", bootstrap=root.read_bytes(),
        # ngclient's default cap on targets.json (5 MB) is below a
        # 100,000-target role; fwsign's client has no such cap by default.
        config=UpdaterConfig(targets_max_length=2**32),
    )
    updater.refresh()
    # ngclient loads targets lazily; look one up so targets.json is fetched
    # and verified, as `fwsign client refresh` does.
    if updater.get_targetinfo("no-such-target") is not None:
        raise SystemExit("unexpected target")


def main() -> int:
    cmd, *args = sys.argv[1:] or ["help"]
    if cmd == "keys" and len(args) == 1:
        keys(Path(args[0]))
    elif cmd == "create" and len(args) == 3:
        create(*map(Path, args))
    elif cmd == "add-one" and len(args) == 3:
        add_one(*map(Path, args))
    elif cmd == "refresh" and len(args) == 3:
        refresh(args[0], Path(args[1]), Path(args[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
