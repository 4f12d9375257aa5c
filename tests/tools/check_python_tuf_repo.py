#!/usr/bin/env python3
"""Self-check tests/data/python-tuf-repo with python-tuf's ngclient.Updater.

Serves the repository from 127.0.0.1, refreshes from 1.root.json, downloads
both targets and compares them with files/; then checks that a tampered
target is refused. Exit 0 on success.

  .venv/bin/python tests/tools/check_python_tuf_repo.py [REPO_DIR]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from verify_repo import verify

REPO = Path(__file__).resolve().parents[2]
TARGETS = ["fw/app-1.0.0.bin", "board-a/fw-1.0.0.bin"]


def main() -> int:
    repo = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "tests" / "data" / "python-tuf-repo"
    root = repo / "metadata" / "1.root.json"
    with tempfile.TemporaryDirectory() as tmp:
        paths = verify(str(repo / "metadata"), str(repo / "targets"), str(root), TARGETS, tmp)
        for name, path in zip(TARGETS, paths):
            got = Path(path).read_bytes()
            want = (repo / "files" / name).read_bytes()
            assert got == want, f"{name}: downloaded bytes differ from files/{name}"
            print(f"ok: downloaded and verified {name} ({len(got)} bytes)")

    # negative check: a corrupted target must be rejected
    with tempfile.TemporaryDirectory() as tmp:
        bad_targets = Path(tmp) / "targets"
        shutil.copytree(repo / "targets", bad_targets)
        victim = next(bad_targets.glob("fw/*.app-1.0.0.bin"))
        data = bytearray(victim.read_bytes())
        data[0] ^= 1
        victim.write_bytes(bytes(data))
        try:
            verify(str(repo / "metadata"), str(bad_targets), str(root), [TARGETS[0]], str(Path(tmp) / "w"))
        except Exception as e:  # noqa: BLE001
            print(f"ok: tampered target rejected ({type(e).__name__})")
        else:
            print("FAIL: tampered target was accepted", file=sys.stderr)
            return 1
    print("python-tuf ngclient self-check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
