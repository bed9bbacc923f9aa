"""scripts/mutation.py's report: the table and the closing JSON line, on made-up results. The
mutation run itself takes minutes per module and is not a test."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from mutation import MODULES, Result, summary, table


def test_scores_count_timeouts_as_killed_and_untested_mutants_as_survivors() -> None:
    chat = Result(
        "chat",
        population=10,
        statuses={
            "streaming.chat.x_post__mutmut_1": "killed",
            "streaming.chat.x_post__mutmut_2": "timeout",
            "streaming.chat.x_post__mutmut_3": "survived",
            "streaming.chat.x_like__mutmut_1": "no tests",
        },
        seconds=12.3,
    )
    empty = Result("outbox", error="stopped after 60 s")
    lines = table([chat, empty]).splitlines()
    assert lines[0].split() == ["module", "mutants", "tested", "killed", "survived", "score", "seconds"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["chat", "10", "4", "2", "2", "50.0", "%", "12"]
    assert lines[3].split()[0] == "outbox" and "error" in lines[3]
    found = json.loads(json.dumps(summary([chat, empty])))
    assert found["modules"]["chat"] == {
        "mutants": 10,
        "tested": 4,
        "killed": 2,
        "survived": 2,
        "score": 50.0,
        "seconds": 12.3,
        "survivors": ["streaming.chat.x_like__mutmut_1", "streaming.chat.x_post__mutmut_3"],
    }
    assert found["modules"]["outbox"]["score"] is None
    assert found["modules"]["outbox"]["error"] == "stopped after 60 s"


def test_every_module_names_files_and_tests_that_exist() -> None:
    root = Path(__file__).resolve().parent.parent
    for name, module in MODULES.items():
        for path in (*module.files, *module.tests):
            assert (root / path).is_file(), f"{name}: {path}"
