#!/usr/bin/env python3
"""Build TUF repositories whose hashed bins are TAP 15 `succinct_roles`,
with python-tuf 7's Metadata API (`SuccinctRoles`), for
tests/tests/all/succinct_roles.rs.

Usage:
  make_succinct_repo.py OUT [NAME...]     (default: every repository)

Writes OUT/<NAME>/ as make_client_repos.py does (metadata/, targets/,
trusted-root.json, scenario.json), plus bins.json: {target: bin role} as
python-tuf's `SuccinctRoles.get_role_for_target` computes it.

Repositories:
  succinct        targets delegates to 2^5 bins named bins-00 .. bins-1f
                  (one key, threshold 1); every target is listed by its own
                  bin; a bin delegates further by `paths` to a nested role
  succinct-wrong  one target is listed only by a bin its hash does not
                  select (an attacker holding the bins' key cannot move a
                  name: the right bin is still asked, and it does not list
                  it); expect_ok false
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    MetaFile,
    SuccinctRoles,
    Targets,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_client_repos import (  # noqa: E402
    EXPIRES,
    SPEC_VERSION,
    Repo,
    content,
    signer,
    snapshot_and_timestamp,
    top_level_root,
)

NAMES = [
    "fw/board-a/1.0.bin",
    "fw/board-b/1.0.bin",
    "fw/board-c/2.1.bin",
    "a",
    "b/c.bin",
    "nested/deep.bin",
]


def build(out: Path, name: str, wrong: bool) -> None:
    repo = Repo(out, name)
    k = {r: signer(f"{name}:{r}") for r in ("root", "targets", "snapshot", "timestamp")}
    root = top_level_root({r: [s] for r, s in k.items()})
    repo.write(root, [k["root"]])

    bins_key = signer(f"{name}:bins")
    nested_key = signer(f"{name}:nested")
    succinct = SuccinctRoles(keyids=[], threshold=1, bit_length=5, name_prefix="bins")
    targets = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    targets.delegations = Delegations(keys={}, succinct_roles=succinct)
    targets.add_key(bins_key.public_key)

    bins: dict[str, Targets] = {}
    for bin_name in succinct.get_roles():
        bins[bin_name] = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
    where = {}
    for target in NAMES:
        bin_name = succinct.get_role_for_target(target)
        where[target] = bin_name
        tf = repo.target(target, content(f"{name}:{target}"))
        if target.startswith("nested/"):
            # The bin delegates on to a role of its own keys.
            nested = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES)
            nested.targets[target] = tf
            bins[bin_name].delegations = Delegations(keys={}, roles={})
            bins[bin_name].delegations.roles["nested"] = DelegatedRole(
                name="nested", keyids=[], threshold=1, terminating=False, paths=["nested/*"])
            bins[bin_name].add_key(nested_key.public_key, "nested")
            nested_md = nested
        elif wrong and target == "a":
            # Listed by the next bin instead of its own.
            other = f"bins-{(int(bin_name[5:], 16) + 1) % 32:02x}"
            bins[other].targets[target] = tf
        else:
            bins[bin_name].targets[target] = tf

    meta = {"targets.json": MetaFile.from_data(1, repo.write(targets, [k["targets"]]), ["sha256"])}
    for bin_name, md in bins.items():
        repo.write(md, [bins_key], role=bin_name)
        meta[f"{bin_name}.json"] = MetaFile(version=1)
    repo.write(nested_md, [nested_key], role="nested")
    meta["nested.json"] = MetaFile(version=1)
    snapshot_and_timestamp(repo, meta, k["snapshot"], k["timestamp"])
    if wrong:
        repo.names = ["a"]
    repo.finish(expect_ok=not wrong)
    (repo.dir / "bins.json").write_text(json.dumps(where, indent=2, sort_keys=True) + "\n")


BUILDERS = {
    "succinct": lambda out: build(out, "succinct", wrong=False),
    "succinct-wrong": lambda out: build(out, "succinct-wrong", wrong=True),
}


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    for name in sys.argv[2:] or list(BUILDERS):
        BUILDERS[name](out)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
