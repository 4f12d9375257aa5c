"""Answers, with python-tuf 7 itself, whether delegations cover target paths.

Reads JSON lines on stdin: {"paths": [...]} or {"path_hash_prefixes": [...]},
plus "target"; prints one JSON list of booleans (DelegatedRole.is_delegated_path).
Used by tests/tests/all/path_rules.rs.
"""
import json
import sys

from tuf.api.metadata import DelegatedRole

answers = []
for line in sys.stdin:
    case = json.loads(line)
    role = DelegatedRole(
        name="r",
        keyids=[],
        threshold=1,
        terminating=False,
        paths=case.get("paths"),
        path_hash_prefixes=case.get("path_hash_prefixes"),
    )
    answers.append(role.is_delegated_path(case["target"]))
print(json.dumps(answers))
