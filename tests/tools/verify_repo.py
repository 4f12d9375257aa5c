#!/usr/bin/env python3
"""Fetch and verify targets from a TUF repository with python-tuf's ngclient.

  verify_repo.py METADATA_URL TARGETS_URL TRUSTED_ROOT TARGET_NAME... --dir WORKDIR

METADATA_URL / TARGETS_URL are http(s) base URLs, or local directories, which
are then served on 127.0.0.1 (ephemeral port) for the duration of the run.
TRUSTED_ROOT is the root.json file the client starts from. Metadata is cached in
WORKDIR/metadata, targets are downloaded into WORKDIR/targets. Prints one line
per downloaded target ("<name> -> <path>"); exit 0 on success, 1 with the error
on stderr otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import sys
import threading
from collections.abc import Iterator

from tuf.ngclient import Updater


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@contextlib.contextmanager
def served(url_or_dir: str) -> Iterator[str]:
    """Yield a base URL; serve url_or_dir on 127.0.0.1 if it is a directory."""
    if url_or_dir.startswith(("http://", "https://")):
        yield url_or_dir
        return
    if not os.path.isdir(url_or_dir):
        raise FileNotFoundError(f"not a URL or directory: {url_or_dir}")
    handler = functools.partial(_QuietHandler, directory=os.path.abspath(url_or_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def verify(metadata_url: str, targets_url: str, trusted_root: str,
           names: list[str], workdir: str) -> list[str]:
    """Refresh metadata and download `names`; return the downloaded paths."""
    with open(trusted_root, "rb") as f:
        root_bytes = f.read()
    metadata_dir = os.path.join(workdir, "metadata")
    target_dir = os.path.join(workdir, "targets")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    paths = []
    with served(metadata_url) as murl, served(targets_url) as turl:
        updater = Updater(metadata_dir, murl, target_dir, turl, bootstrap=root_bytes)
        updater.refresh()
        for name in names:
            info = updater.get_targetinfo(name)
            if info is None:
                raise LookupError(f"target {name!r} not found in trusted metadata")
            paths.append(updater.download_target(info))
    return paths


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("metadata_url")
    p.add_argument("targets_url")
    p.add_argument("trusted_root")
    p.add_argument("targets", nargs="+", metavar="TARGET_NAME")
    p.add_argument("--dir", required=True, help="work directory (metadata cache, downloads)")
    a = p.parse_args()
    try:
        paths = verify(a.metadata_url, a.targets_url, a.trusted_root, a.targets, a.dir)
    except Exception as e:  # noqa: BLE001 - report any failure
        print(f"verify_repo: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        cause = e.__cause__
        while cause is not None:
            print(f"  caused by {type(cause).__name__}: {cause}", file=sys.stderr)
            cause = cause.__cause__
        return 1
    for name, path in zip(a.targets, paths):
        print(f"{name} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
