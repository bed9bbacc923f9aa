"""Mutation testing of the modules that hold the platform's rules, with mutmut.

    .venv/bin/python scripts/mutation.py [--module NAME ...] [--sample 40] [--seed 16] [--jobs 2]

(mutmut comes with the test extras: ``scripts/test`` installs them.) For each module of
:data:`MODULES` (all by default, one after the other), the working tree is copied to a scratch
directory, so the checkout is never touched. mutmut mutates the module's files, only the functions
that hold its rules where :data:`MODULES` names them, and for each mutant runs only the module's
tests (SQLite only: the rules are the same on PostgreSQL) that reach the mutated function. A
mutant is killed when a test fails on it (a timeout counts as killed); it survives when every test
passes, or when no test reaches it. Score: killed / tested.

Bounded: ``--sample`` mutants per module, drawn at random with ``--seed`` from all of them (0: test
every one; a module's whole set takes tens of minutes), so one module takes a few minutes on two
cores. The same seed draws the same mutants while the code under test is unchanged.

Prints a table of the score per module, each surviving mutant with its diff, and, as the very last
line, one JSON object: ``{"modules": {name: {"mutants", "tested", "killed", "survived", "score",
"seconds", "survivors": [...]}}}``. Not part of CI.

A mutant that no test can tell from the original (it changes nothing a user could notice) is
marked in the source with ``# pragma: no mutate`` and the reason, on the line mutmut would change.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("expo", "booths", "streaming", "web")
# Copied next to the packages: what the tests read besides the packages themselves.
ALSO_COPY = ("tests", "scripts", "pyproject.toml", "config.toml", "babel.cfg")
IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "data", "build", "mutants", "__pycache__", "*.egg-info", ".*_cache", "*.pyc"
)
SEP = "ǁ"  # mutmut's separator in the mangled names of methods: xǁClassǁmethod


@dataclass(frozen=True)
class Module:
    """One module's rules: the files mutated, the tests run, and optionally the functions."""

    files: tuple[str, ...]
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    """mutmut's mangled names (``x_func``, ``xǁClassǁmethod``) to restrict the run to; empty: all."""
    select: str = "not postgres and not postgresql"
    """pytest ``-k``: the rules are the same on both stores, PostgreSQL's set-up only costs time."""


def _methods(cls: str, *names: str) -> tuple[str, ...]:
    return tuple(f"x{SEP}{cls}{SEP}{name}" for name in names)


MODULES: dict[str, Module] = {
    "seats": Module(
        files=("expo/agenda/seats.py", "expo/agenda/seat_store.py"),
        tests=("tests/agenda/test_seats.py", "tests/agenda/test_seat_store.py"),
        functions=(
            *_methods("SeatDesk", "_decide_batch", "_register", "_cancel", "_promote", "_notify"),
            *_methods("ProgramState", "has_room"),
            *("x_count_seats", "x_load_queue", "x_load_rows", "x_rank", "x_write"),
        ),
    ),
    "audience": Module(
        files=("streaming/audience.py",),
        tests=("tests/streaming/test_audience.py",),
        functions=(
            *_methods("Audience", "watch", "leave", "_release_claim", "_changed", "_publish", "_raise_peak"),
            *_methods("Audience", "_record_view", "_close_views", "live_viewers", "stats", "sample"),
            *_methods("Audience", "close_lapsed", "announce"),
            *("x_viewer_id", "x_sign_viewer", "x_unsign_viewer"),
        ),
    ),
    "permissions": Module(
        files=("expo/permissions.py", "expo/auth.py"),
        tests=("tests/test_authorization.py", "tests/accounts/test_api.py", "tests/expos/test_team.py"),
    ),
    "security": Module(
        files=("expo/security.py",),
        tests=("tests/test_security.py", "tests/accounts/test_api.py"),
    ),
    "catalog": Module(
        files=("booths/catalog.py",),
        tests=("tests/booths/test_catalog_import.py", "tests/booths/test_catalog_api.py"),
        functions=(
            *("x__price", "x__row", "x__columns", "x_check_header", "x_parse_catalog", "x__categories"),
            *("x__booths", "x_import_catalog", "x__fail"),
        ),
    ),
    "search": Module(
        files=("booths/search.py",),
        tests=("tests/booths/test_search.py",),
        functions=(
            *("x_fold", "x_groups", "x_tokens", "x_ancestry", "x__query_groups", "x_fts5_text"),
            *("x_fts5_tags", "x__with_tags", "x_tsquery", "x_search"),
        ),
        select="",  # the SQLite/PostgreSQL parity tests reach the PostgreSQL branch
    ),
    "chat": Module(
        files=("streaming/chat.py",),
        tests=("tests/streaming/test_chat.py",),
        functions=(
            *("x_clean_body", "x_active_sanctions", "x_bans_in_force", "x_check_can_write"),
            *("x_can_moderate", "x_require_moderator", "x__check_slow_mode", "x_post", "x_delete_message"),
            *("x_vote", "x_mark_answered", "x_like", "x_sanction", "x_lift", "x_set_slow_mode"),
        ),
    ),
    "outbox": Module(
        files=("expo/mail/outbox.py",),
        tests=("tests/registration/test_outbox.py",),
    ),
    "uploads": Module(
        files=("expo/uploads.py", "booths/media.py"),
        tests=("tests/test_uploads.py",),
    ),
    "stream-keys": Module(
        files=("streaming/media_api.py", "streaming/services.py", "streaming/plane.py"),
        # test_whip_forwarding serves two apps in-process: test_cluster's ``expo serve`` processes
        # run the installed code, never the mutant.
        tests=(
            "tests/streaming/test_stream_keys.py",
            "tests/streaming/test_whip_whep.py",
            "tests/streaming/test_whip_forwarding.py",
        ),
        functions=(
            *("x_bearer", "x_whip_publish", "x_whip_delete", "x_key_matches", "x_new_key"),
            *("x_regenerate_key", *_methods("MediaPlane", "unpublish")),
        ),
    ),
    "forwarder": Module(
        files=("streaming/forwarder.py",),
        tests=("tests/streaming/test_forwarder.py", "tests/streaming/test_forwarder_marker.py"),
    ),
}


@dataclass
class Result:
    """What one module's run found."""

    name: str
    population: int = 0  # mutants in the module's rules, of which ``statuses`` holds those tested
    statuses: dict[str, str] = field(default_factory=dict)  # mutant name -> mutmut's status
    diffs: dict[str, str] = field(default_factory=dict)  # surviving mutant -> its changed lines
    seconds: float = 0.0
    error: str = ""

    @property
    def killed(self) -> int:
        return sum(s in ("killed", "timeout", "caught by type check") for s in self.statuses.values())

    @property
    def survivors(self) -> list[str]:
        return sorted(m for m, s in self.statuses.items() if s in ("survived", "no tests", "suspicious"))

    @property
    def score(self) -> float | None:
        judged = self.killed + len(self.survivors)
        return round(100.0 * self.killed / judged, 1) if judged else None


def table(results: list[Result]) -> str:
    """The per-module table (plain text, aligned)."""
    rows = [("module", "mutants", "tested", "killed", "survived", "score", "seconds")]
    for r in results:
        score = "—" if r.score is None else f"{r.score:.1f} %"
        if r.error:
            score += " (error)"
        tested = r.killed + len(r.survivors)
        rows.append(
            (
                r.name,
                str(r.population),
                str(tested),
                str(r.killed),
                str(len(r.survivors)),
                score,
                f"{r.seconds:.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(results: list[Result]) -> dict[str, object]:
    """The JSON object printed last."""
    return {
        "modules": {
            r.name: {
                "mutants": r.population,
                "tested": r.killed + len(r.survivors),
                "killed": r.killed,
                "survived": len(r.survivors),
                "score": r.score,
                "seconds": round(r.seconds, 1),
                "survivors": r.survivors,
                **({"error": r.error} if r.error else {}),
            }
            for r in results
        }
    }


def _copy_tree(workdir: Path) -> None:
    for name in (*PACKAGES, *ALSO_COPY):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, workdir / name, ignore=IGNORED)
        elif source.exists():
            shutil.copy2(source, workdir / name)


def _toml_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _configure(workdir: Path, module: Module) -> None:
    """Append mutmut's settings for this module to the copy's pyproject.toml."""
    settings = f"""
[tool.mutmut]
source_paths = {_toml_list(PACKAGES)}
only_mutate = {_toml_list(module.files)}
also_copy = {_toml_list(["scripts", "config.toml", "babel.cfg"])}
pytest_add_cli_args = {_toml_list(["-p", "no:cacheprovider", "-x", "-q", "-k", module.select])}
pytest_add_cli_args_test_selection = {_toml_list(module.tests)}
use_git_change_detection = false
"""
    with open(workdir / "pyproject.toml", "a", encoding="utf-8") as out:
        out.write(settings)


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _patterns(module: Module) -> list[str]:
    if not module.functions:
        return []
    return [f"{_module_name(f)}.{fn}__mutmut_*" for f in module.files for fn in module.functions]


def _wanted(mutant: str, module: Module) -> bool:
    if not module.functions:
        return True
    mangled = mutant.partition("__mutmut_")[0].rpartition(".")[2]
    return mangled in module.functions


def _statuses(workdir: Path, module: Module) -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    found: dict[str, str] = {}
    for path in module.files:
        meta = workdir / "mutants" / f"{path}.meta"
        if not meta.exists():
            continue
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        for mutant, code in codes.items():
            if _wanted(mutant, module):
                found[mutant] = status_by_exit_code[code]
    return {m: s for m, s in found.items() if s not in ("not checked", "skipped")}


def _diff(workdir: Path, mutant: str) -> str:
    """The mutant's changed lines, ``-old`` / ``+new``, from ``mutmut show``."""
    shown = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", mutant], cwd=workdir, capture_output=True, text=True
    ).stdout
    changed = [
        line.rstrip() for line in shown.splitlines() if re.match(r"^[-+](?![-+])", line) and line[1:].strip()
    ]
    return "\n".join(changed)


def _mutants(workdir: Path, module: Module) -> list[str]:
    """Every mutant mutmut generated in the module's files (and functions, when it names them)."""
    names: list[str] = []
    for path in module.files:
        meta = workdir / "mutants" / f"{path}.meta"
        if meta.exists():
            names += [m for m in json.loads(meta.read_text())["exit_code_by_key"] if _wanted(m, module)]
    return sorted(names)


def _mutmut(workdir: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, "-m", "mutmut", *args]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)


def run_module(
    name: str,
    module: Module,
    *,
    jobs: int,
    timeout: float,
    sample: int,
    seed: int,
    keep: bool,
    only: list[str] | None = None,
) -> Result:
    result = Result(name)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"expo-mutation-{name}-"))
    try:
        _copy_tree(workdir)
        _configure(workdir, module)
        # First pass: mutmut generates the mutants and records which tests reach which function
        # (it then stops: the pattern matches no mutant). Second: the chosen mutants are tested.
        _mutmut(workdir, ["run", "--max-children", str(jobs), "expo-mutation-generate-only"], timeout)
        everything = _mutants(workdir, module)
        result.population = len(everything)
        chosen = everything
        if only:
            chosen = [m for m in everything if m in set(only)]
        elif sample and len(everything) > sample:
            chosen = sorted(random.Random(seed).sample(everything, sample))
        if not chosen:
            result.error = "no mutants generated"
            return result
        left = max(1.0, timeout - (time.monotonic() - started))
        try:
            done = _mutmut(workdir, ["run", "--max-children", str(jobs), *chosen], left)
            if done.returncode != 0:
                lines = (done.stdout + done.stderr).strip().splitlines() or ["failed"]
                # With pytest's FAILED lines: a clean run that fails says which test did.
                failed = [line for line in lines if line.startswith("FAILED ")]
                result.error = "; ".join([lines[-1], *failed])[:300]
        except subprocess.TimeoutExpired:
            result.error = f"stopped after {timeout:.0f} s"
        result.statuses = {m: s for m, s in _statuses(workdir, module).items() if m in set(chosen)}
        for mutant in result.survivors:
            result.diffs[mutant] = _diff(workdir, mutant)
    finally:
        result.seconds = time.monotonic() - started
        if keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="default: all")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per module (default 1200)")
    parser.add_argument(
        "--sample",
        type=int,
        default=40,
        help="mutants tested per module, drawn at random (0: all; default 40)",
    )
    parser.add_argument("--seed", type=int, default=16, help="the draw's seed (default 16)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies (for mutmut browse)")
    parser.add_argument(
        "--mutant",
        action="append",
        help="test only this mutant (repeatable; with one --module), e.g. a survivor",
    )
    args = parser.parse_args(argv)
    if importlib.util.find_spec("mutmut") is None:
        print("mutmut is missing: install the test extras (scripts/test does)", file=sys.stderr)
        return 2
    results: list[Result] = []
    for name in args.module or list(MODULES):
        print(f"{name}: mutating {', '.join(MODULES[name].files)}...", file=sys.stderr, flush=True)
        found = run_module(
            name,
            MODULES[name],
            jobs=args.jobs,
            timeout=args.timeout,
            sample=args.sample,
            seed=args.seed,
            keep=args.keep,
            only=args.mutant,
        )
        results.append(found)
    print(table(results))
    for r in results:
        if r.error:
            print(f"\n{r.name}: {r.error}")
        for mutant in r.survivors:
            print(f"\n{r.name}: {mutant} ({r.statuses[mutant]})")
            for line in r.diffs.get(mutant, "").splitlines():
                print(f"    {line}")
    print(json.dumps(summary(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
