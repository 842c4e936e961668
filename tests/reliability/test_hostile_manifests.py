"""Manifests whose patterns would make validation run for hours: the glob budget stops them
with a manifest error naming the pattern and the limit, before anything is recorded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from attune_registry.domain.errors import ManifestError

from attune_registry.adapters.packs.loader import FilesystemPackLoader
from attune_registry.adapters.runners.budget import (
    MAX_PATTERN_CHARS,
    MAX_PATTERN_PARTS,
    MAX_RECURSIVE_PARTS,
    MAX_WILDCARDS,
    GlobLimits,
)

from tests.packs import manifest, write_pack


def suites(*patterns: str, count: int = 1, working_dir: str = "tests") -> dict:
    return {"enabled": True, "test_suites": [
        {"name": f"Suite {n}", "runner": "pytest", "working_dir": working_dir,
         "test_files": list(patterns), "timeout_seconds": 60} for n in range(count)]}


def deep_pack(root: Path, depth: int = 6, files: int = 5, **testing: object) -> Path:
    """A pack whose tests/ folder is ``depth`` folders deep with ``files`` files in each."""
    pack = write_pack(root, manifest("deep", testing=testing["testing"]), {})
    folder = pack / "tests"
    for level in range(depth):
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(files):
            (folder / f"test_{level}_{n}.py").write_text("def test_x():\n    pass\n")
        folder = folder / "d"
    return pack


def entries_below(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*"))


class TestPatternShape:
    @pytest.mark.parametrize(("pattern", "limit"), [
        ("/".join(["**", "*"] * (MAX_RECURSIVE_PARTS + 1)),
         f"at most {MAX_RECURSIVE_PARTS} '**' parts"),
        ("*a" * MAX_WILDCARDS + "*b", f"at most {MAX_WILDCARDS} wildcards"),
        ("/".join(["x"] * (MAX_PATTERN_PARTS + 1)), f"at most {MAX_PATTERN_PARTS} path parts"),
        ("t" * (MAX_PATTERN_CHARS + 1), f"at most {MAX_PATTERN_CHARS} characters"),
    ])
    def test_a_costly_pattern_is_refused_before_any_folder_is_listed(self, tmp_path, pattern,
                                                                      limit):
        pack = deep_pack(tmp_path / "p", testing=suites("test_*.py", pattern))
        # Not even one directory entry may be listed: the shape alone decides.
        loader = FilesystemPackLoader(glob_limits=GlobLimits(entries=0))

        with pytest.raises(ManifestError) as refused:
            loader.load(str(pack))

        assert refused.value.field == "testing.test_suites[0].test_files[1]"
        assert limit in refused.value.problem
        assert refused.value.problem.startswith(repr(pattern[:60] + "…")
                                                if len(pattern) > 60 else repr(pattern))

    def test_repeated_recursive_parts_count_once(self, tmp_path):
        # "**/**/**" means "**": harmless, so it is accepted.
        pack = deep_pack(tmp_path / "p", testing=suites("/".join(["**"] * 12 + ["test_*.py"])))

        assert FilesystemPackLoader().load(str(pack)).manifest.ref == "deep"


class TestBudget:
    def test_the_entries_listed_are_counted_exactly(self, tmp_path):
        pack = deep_pack(tmp_path / "p", testing=suites("test_*.py"))
        listed = entries_below(pack / "tests")

        loaded = FilesystemPackLoader(glob_limits=GlobLimits(entries=listed)).load(str(pack))
        with pytest.raises(ManifestError) as refused:
            FilesystemPackLoader(glob_limits=GlobLimits(entries=listed - 1)).load(str(pack))

        assert loaded.manifest.ref == "deep"
        assert refused.value.field == "testing.test_suites[0].working_dir"
        assert refused.value.problem == (
            f"'tests': the search visited more than {listed - 1} directory entries "
            "(the validation budget)")

    def test_suites_searching_one_folder_list_it_once(self, tmp_path):
        pack = deep_pack(tmp_path / "p", testing=suites("test_*.py", count=100))

        # A hundred suites, and the budget of one listing is enough.
        limits = GlobLimits(entries=entries_below(pack / "tests"))
        assert len(FilesystemPackLoader(glob_limits=limits).load(str(pack))
                   .manifest.testing.test_suites) == 100

    def test_costly_patterns_run_out_of_steps_and_name_the_pattern(self, tmp_path):
        # Each pattern has the most "**" parts allowed: every name below is tested against
        # several parts. A hundred suites of distinct such patterns would cost hours unbounded.
        costly = "/".join(["**", "*"] * MAX_RECURSIVE_PARTS)
        testing = suites("test_*.py", count=100)
        for n, suite in enumerate(testing["test_suites"]):
            suite["test_files"] = [f"{costly}[!{n}]*[!{p}].py" for p in range(5)]
        pack = deep_pack(tmp_path / "p", depth=8, testing=testing)
        one = FilesystemPackLoader(glob_limits=GlobLimits(steps=10**9))

        with pytest.raises(ManifestError) as refused:
            FilesystemPackLoader(glob_limits=GlobLimits(steps=2000)).load(str(pack))

        # The error names the pattern it stopped in, at its own field.
        suite, position = map(int, re.findall(r"\d+", refused.value.field))
        named = testing["test_suites"][suite]["test_files"][position]
        assert refused.value.field == f"testing.test_suites[{suite}].test_files[{position}]"
        assert refused.value.problem == (f"{named!r}: matching took more than 2000 steps "
                                         "(the validation budget)")
        # The same manifest with all the steps it wants is valid: the budget stopped it.
        assert one.load(str(pack)).manifest.ref == "deep"

    def test_the_deadline_is_checked_during_the_walk(self, tmp_path):
        pack = deep_pack(tmp_path / "p", depth=30, testing=suites("**/test_*.py"))
        ticks = iter(range(1_000_000))  # a clock that moves a second each time it is read

        limits = GlobLimits(seconds=5, clock=lambda: float(next(ticks)))
        with pytest.raises(ManifestError) as refused:
            FilesystemPackLoader(glob_limits=limits).load(str(pack))

        assert "ran past the 5-second validation deadline" in refused.value.problem
        assert next(ticks) < 20  # stopped soon after the deadline, not at the end of the walk

    def test_a_name_costs_one_step_per_pattern_part_whatever_its_wildcards(self, tmp_path):
        # "*a*a*…*b" against long names of "a"s: a backtracking matcher would try every split
        # (fnmatch's expressions match each "*" atomically since Python 3.9). Here each name is
        # one step as a listed entry and one against the pattern's only part.
        pattern = "*a" * (MAX_WILDCARDS - 1) + "*b"
        pack = write_pack(tmp_path / "p", manifest("names", testing=suites(pattern)), {})
        (pack / "tests").mkdir()
        for n in range(20):
            (pack / "tests" / (f"{n:02d}" + "a" * 200)).touch()
        (pack / "tests" / ("a" * (MAX_WILDCARDS - 1) + "b")).touch()

        # 21 names, two steps each, and one step for each of the two checks of the one match.
        loaded = FilesystemPackLoader(glob_limits=GlobLimits(steps=21 * 2 + 2)).load(str(pack))
        with pytest.raises(ManifestError, match="more than 43 steps"):
            FilesystemPackLoader(glob_limits=GlobLimits(steps=21 * 2 + 1)).load(str(pack))

        assert loaded.manifest.ref == "names"


class TestThroughTheCommandLine:
    def test_skip_tests_still_refuses_a_costly_pattern_and_records_nothing(self, cli, tmp_path):
        pattern = "/".join(["**", "*"] * 8)
        pack = deep_pack(tmp_path / "p", testing=suites(pattern))

        done = cli("pack", "register", str(pack), "--skip-tests")

        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.splitlines() == [
            f"✗ Error: Invalid pack.yaml: testing.test_suites[0].test_files[0]: {pattern!r}: "
            f"a pattern may have at most {MAX_RECURSIVE_PARTS} '**' parts, this one has 8"]
        assert cli("pack", "history", "deep", "--json").stdout.count('"id"') == 0

