#!/usr/bin/env python3
"""Run python-tuf's ngclient the way `fwsign client download` runs.

Usage:
  ngclient_download.py --trusted-root ROOT --metadata-dir DIR --metadata-url URL
                       --target-dir TDIR --target-base-url TURL NAME...

Copies ROOT to DIR/root.json unless DIR already has one (like `fwsign client
init` once, then later runs keep their state), refreshes, then for
each NAME finds the target by the delegation search, uses a cached copy in
TDIR if it is up to date and downloads it otherwise. Prints one JSON line:
  {"ok": true, "downloaded": {"NAME": "<file name in TDIR>", ...}}
  {"ok": false, "error": "<exception class>", "message": "..."}
With no NAME it only refreshes. Always exits 0 (the JSON says what happened),
2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

from tuf.ngclient import Updater


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trusted-root", required=True)
    parser.add_argument("--metadata-dir", required=True)
    parser.add_argument("--metadata-url", required=True)
    parser.add_argument("--target-dir", required=True)
    parser.add_argument("--target-base-url", required=True)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()

    os.makedirs(args.metadata_dir, exist_ok=True)
    root_json = os.path.join(args.metadata_dir, "root.json")
    if not os.path.exists(root_json):
        shutil.copyfile(args.trusted_root, root_json)
    downloaded = {}
    try:
        updater = Updater(
            args.metadata_dir,
            args.metadata_url,
            args.target_dir,
            args.target_base_url,
            bootstrap=None,
        )
        updater.refresh()
        for name in args.names:
            info = updater.get_targetinfo(name)
            if info is None:
                raise LookupError(f"target {name!r} not found")
            path = updater.find_cached_target(info) or updater.download_target(info)
            downloaded[name] = os.path.basename(path)
    except Exception as e:  # noqa: BLE001 - the class is the answer
        print(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e)}))
        return 0
    print(json.dumps({"ok": True, "downloaded": downloaded}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
