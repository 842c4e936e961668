"""Per-pack Python environments (issue 20): a pack's requirements installed into an environment
of its own, from a wheelhouse made here (no index, no network); shared by identical
requirements; hash-checking mode; failures that reject the registration before any suite runs;
and the registry's own packages out of the suites' reach, with each sandbox mechanism.
Both stores, the real sandbox."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from attune_registry.domain.errors import EnvironmentFailedError, ManifestError, TestsFailedError

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry

from tests.conftest import _running_in_ci
from tests.packs import manifest, write_pack
from tests.wheelhouse import GREETING, greeting_wheelhouse, sha256_of, write_wheel

PREPARED = "attune:Registration.EnvironmentPrepared"
REJECTED = "attune:Registration.RegistrationRejected"
SUITE = "attune:Registration.TestSuiteCompleted"

GREETING_TEST = """
import unittest

class TestGreeting(unittest.TestCase):
    def test_the_requirement_is_importable(self):
        import attune_greeting
        self.assertEqual(attune_greeting.GREETING, "hello")
"""


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return greeting_wheelhouse(tmp_path / "wheelhouse")


@pytest.fixture
def offline(settings, tmp_path: Path, wheel: Path):
    """Settings whose environments come from the wheelhouse alone, cached for this test."""
    return dataclasses.replace(settings, wheelhouse_setting=str(wheel.parent),
                               environments_setting=str(tmp_path / "environments"))


@pytest.fixture
def registry(offline):
    with build_registry(offline) as service:
        yield service


def greeting_pack(folder: Path, ref: str = "greeter", requirements_txt: str | None = None,
                  **testing: object) -> Path:
    data = manifest(ref)
    data["testing"].update(testing)
    pack = write_pack(folder, data, {"test_greeting.py": GREETING_TEST})
    if requirements_txt is not None:
        (pack / "requirements.txt").write_text(requirements_txt)
    return pack


def events(registry, registration_id, topic: str) -> list[dict]:
    return [event.state for event in registry.audit(registration_id) if event.topic == topic]


class TestRequirements:
    def test_a_requirement_from_the_wheelhouse_is_installed_and_recorded(
            self, registry, tmp_path, wheel):
        pack = greeting_pack(tmp_path / "pack", requirements_txt=f"{GREETING}==1.0\n")

        outcome = registry.register(RegisterCommand(path=str(pack))).outcome

        assert outcome.all_passed
        [prepared] = events(registry, outcome.registration_id, PREPARED)
        assert prepared["packages"] == [{"name": GREETING, "version": "1.0",
                                         "hash": f"sha256:{sha256_of(wheel)}"}]
        assert prepared["requirements"] == "requirements.txt"
        assert prepared["requirements_digest"] == sha256_of(pack / "requirements.txt")
        assert prepared["hash_checked"] is False and prepared["built"] is True
        # The stored shape is a persisted contract (as tests/fixtures/event_shapes.json pins
        # the others').
        assert sorted(prepared) == ["built", "environment_key", "hash_checked", "packages",
                                    "python_version", "requirements", "requirements_digest",
                                    "timestamp"]

    def test_a_manual_run_records_the_environment_it_reused(self, registry, tmp_path):
        pack = greeting_pack(tmp_path / "pack", requirements_txt=f"{GREETING}==1.0\n")
        outcome = registry.register(RegisterCommand(path=str(pack))).outcome
        [registered] = events(registry, outcome.registration_id, PREPARED)

        run = registry.test_registered("greeter")

        assert run.result.status == "passed" and run.test_run_id is not None
        stored = [registry.app.mapper.to_domain_event(event)
                  for event in registry.app.recorder.select_events(run.test_run_id)]
        [prepared] = [event for event in stored
                      if type(event).__qualname__ == "TestRun.EnvironmentPrepared"]
        assert (prepared.environment_key, prepared.built, prepared.packages) == (
            registered["environment_key"], False, registered["packages"])

    def test_without_the_requirement_the_import_fails(self, registry, tmp_path):
        pack = greeting_pack(tmp_path / "pack")

        with pytest.raises(TestsFailedError) as raised:
            registry.register(RegisterCommand(path=str(pack)))

        [suite] = events(registry, raised.value.registration_id, SUITE)
        [case] = suite["test_cases"]
        assert "ModuleNotFoundError: No module named 'attune_greeting'" in case["error_message"]
        # The shared empty environment holds nothing: nothing is recorded of it.
        assert events(registry, raised.value.registration_id, PREPARED) == []

    def test_the_requirements_file_named_in_testing_is_the_one_installed(
            self, registry, tmp_path):
        pack = greeting_pack(tmp_path / "pack", requirements_txt="# not this one\n",
                             requirements="deps/test.txt")
        (pack / "deps").mkdir()
        (pack / "deps" / "test.txt").write_text(f"{GREETING}>=1\n")

        outcome = registry.register(RegisterCommand(path=str(pack))).outcome

        [prepared] = events(registry, outcome.registration_id, PREPARED)
        assert prepared["requirements"] == "deps/test.txt"
        assert [p["name"] for p in prepared["packages"]] == [GREETING]


    def test_the_packs_own_version_of_a_runner_package_comes_first(self, registry, tmp_path,
                                                                    wheel):
        # iniconfig is one of pytest's own packages, which every environment can import: a
        # pack that requires another version gets its own.
        write_wheel(wheel.parent, "iniconfig", "99.0", "iniconfig", 'VERSION = "99.0"\n')
        pack = write_pack(tmp_path / "pack", manifest("pinned"), {"test_own.py": """
            import unittest

            class TestOwn(unittest.TestCase):
                def test_its_own_version(self):
                    import iniconfig
                    self.assertEqual(iniconfig.VERSION, "99.0")
        """})
        (pack / "requirements.txt").write_text("iniconfig==99.0\n")

        assert registry.register(RegisterCommand(path=str(pack))).outcome.all_passed


class TestCache:
    def test_identical_requirements_share_one_environment_built_once(
            self, registry, offline, tmp_path):
        first = registry.register(RegisterCommand(path=str(greeting_pack(
            tmp_path / "a", "first", requirements_txt=f"{GREETING}==1.0\n")))).outcome
        [built] = events(registry, first.registration_id, PREPARED)
        record = offline.environments_dir / "python" / built["environment_key"] / \
            "attune-environment.json"
        before = record.stat()

        second = registry.register(RegisterCommand(path=str(greeting_pack(
            tmp_path / "b", "second", requirements_txt=f"{GREETING}==1.0\n")))).outcome

        [reused] = events(registry, second.registration_id, PREPARED)
        assert reused["environment_key"] == built["environment_key"]
        assert (built["built"], reused["built"]) == (True, False)
        after = record.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        assert reused["packages"] == built["packages"]

    def test_packs_without_requirements_share_the_empty_environment(self, offline, tmp_path):
        from attune_registry.domain.manifest import TestingConfig

        from attune_registry.adapters.environments.cache import EnvironmentCache

        cache = EnvironmentCache.of(offline)
        prepared = [cache.prepare(str(write_pack(tmp_path / ref, manifest(ref))),
                                  TestingConfig()) for ref in ("plain", "simple")]

        assert prepared[0].context == prepared[1].context
        assert [p.record["built"] for p in prepared] == [True, False]
        assert [p.record["packages"] for p in prepared] == [[], []]


    def test_only_an_environment_still_to_build_lengthens_the_lease(self, offline, tmp_path):
        from datetime import timedelta

        from attune_registry.domain.manifest import TestingConfig

        from attune_registry.adapters.environments.cache import EnvironmentCache

        cache, testing = EnvironmentCache.of(offline), TestingConfig()
        plain = write_pack(tmp_path / "plain", manifest("plain"))
        pack = greeting_pack(tmp_path / "pack", requirements_txt=f"{GREETING}==1.0\n")

        before = cache.allowance(str(pack), testing)
        cache.prepare(str(pack), testing)

        assert before == timedelta(seconds=offline.environment_timeout)
        assert cache.allowance(str(pack), testing) == timedelta(0)
        assert cache.allowance(str(plain), testing) == timedelta(0)


    def test_concurrent_preparations_of_one_environment_build_it_once(self, offline,
                                                                       tmp_path):
        from concurrent.futures import ThreadPoolExecutor

        from attune_registry.domain.manifest import TestingConfig

        from attune_registry.adapters.environments.cache import EnvironmentCache

        packs = [greeting_pack(tmp_path / f"p{n}", requirements_txt=f"{GREETING}==1.0\n")
                 for n in range(4)]
        caches = [EnvironmentCache.of(offline) for _ in packs]  # as separate processes would

        with ThreadPoolExecutor(len(packs)) as pool:
            prepared = list(pool.map(lambda pair: pair[0].prepare(str(pair[1]),
                                                                  TestingConfig()),
                                     zip(caches, packs, strict=True)))

        assert len({p.record["environment_key"] for p in prepared}) == 1
        assert sorted(p.record["built"] for p in prepared) == [False, False, False, True]
        assert len({p.context.python for p in prepared}) == 1


class TestFailures:
    def test_a_hash_that_does_not_match_rejects_the_registration_before_any_suite(
            self, registry, tmp_path, wheel):
        pack = greeting_pack(tmp_path / "pack",
                             requirements_txt=f"{GREETING}==1.0 --hash=sha256:{'0' * 64}\n")

        with pytest.raises(EnvironmentFailedError) as raised:
            registry.register(RegisterCommand(path=str(pack)))

        assert "DO NOT MATCH THE HASHES" in str(raised.value)
        assert sha256_of(wheel) in raised.value.output  # pip names what it got
        [rejected] = events(registry, raised.value.registration_id, REJECTED)
        assert rejected["reason"] == "environment_failed"
        assert "DO NOT MATCH THE HASHES" in rejected["message"]
        assert events(registry, raised.value.registration_id, SUITE) == []
        assert [p.ref for p in registry.list_packs()] == []

    def test_the_right_hash_installs_in_hash_checking_mode(self, registry, tmp_path, wheel):
        pack = greeting_pack(tmp_path / "pack",
                             requirements_txt=f"{GREETING}==1.0 \\\n    --hash=sha256:"
                                          f"{sha256_of(wheel)}\n")

        outcome = registry.register(RegisterCommand(path=str(pack))).outcome

        [prepared] = events(registry, outcome.registration_id, PREPARED)
        assert prepared["hash_checked"] is True and outcome.all_passed

    def test_a_requirement_that_cannot_be_found_rejects_the_registration(
            self, registry, offline, tmp_path):
        pack = greeting_pack(tmp_path / "pack", requirements_txt="attune-nowhere==9.9\n")

        with pytest.raises(EnvironmentFailedError) as raised:
            registry.register(RegisterCommand(path=str(pack)))

        assert "No matching distribution found for attune-nowhere==9.9" in raised.value.output
        [rejected] = events(registry, raised.value.registration_id, REJECTED)
        assert rejected["reason"] == "environment_failed"
        assert raised.value.details == [{"output": raised.value.output,
                                         "registration_id": str(
                                             raised.value.registration_id)}]
        # Nothing of the failed build stays in the cache: the next attempt builds afresh.
        assert not list((offline.environments_dir / "python").iterdir())

    @pytest.mark.parametrize("line", ["-e .", "--index-url https://example.invalid/simple",
                                      "attune-greeting @ file:///etc/passwd", "./local",
                                      "-r ../../other.txt", "attune-greeting --pre"],
                             ids=["editable", "index", "url", "path", "other-file", "option"])
    def test_lines_pip_may_not_be_given_are_refused_before_anything_is_recorded(
            self, registry, tmp_path, line):
        pack = greeting_pack(tmp_path / "pack", requirements_txt=f"# fine\n{line}\n")

        with pytest.raises(ManifestError, match=r"Invalid requirements\.txt: line 2: "):
            registry.register(RegisterCommand(path=str(pack)))

        assert not registry.knows("greeter")

    @pytest.mark.parametrize("name,problem", [("../outside.txt", "must be a relative path"),
                                              ("missing.txt", "is not a file in the pack")],
                             ids=["outside", "missing"])
    def test_a_requirements_path_must_be_a_file_in_the_pack(self, registry, tmp_path, name,
                                                            problem):
        data = manifest("greeter")
        data["testing"]["requirements"] = name
        pack = write_pack(tmp_path / "pack", data)

        with pytest.raises(ManifestError, match=f"testing.requirements: .*{problem}"):
            registry.register(RegisterCommand(path=str(pack)))


MECHANISMS = ["bwrap", "namespaces"]

INVISIBLE = """
import importlib, unittest

class TestInvisible(unittest.TestCase):
    def test_the_registry_packages_cannot_be_imported(self):
        for name in ("litestar", "domain", "adapters", "requests", "msgspec", "eventsourcing"):
            with self.subTest(name=name), self.assertRaises(ModuleNotFoundError):
                importlib.import_module(name)
"""

PYTEST_VISIBLE = """
import importlib

import pytest


@pytest.mark.parametrize("name", ["litestar", "domain", "adapters", "requests", "yaml"])
def test_the_registry_packages_cannot_be_imported(name):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(name)


def test_pytest_and_the_requirement_can():
    import attune_greeting
    assert pytest.__version__ and attune_greeting.GREETING == "hello"
"""


@pytest.fixture(params=MECHANISMS)
def mechanism(request: pytest.FixtureRequest) -> str:
    if request.param == "bwrap" and shutil.which("bwrap") is None and not _running_in_ci():
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    return request.param


class TestIsolation:
    def test_the_registry_packages_are_invisible_and_pytest_is_there(
            self, offline, mechanism, tmp_path):
        data = manifest("sealed")
        data["testing"]["test_suites"].append({
            "name": "Pytest", "runner": "pytest", "working_dir": "checks",
            "test_files": ["test_*.py"], "timeout_seconds": 60})
        pack = write_pack(tmp_path / "pack", data, {"test_invisible.py": INVISIBLE})
        (pack / "checks").mkdir()
        (pack / "checks" / "test_visible.py").write_text(PYTEST_VISIBLE)
        (pack / "requirements.txt").write_text(f"{GREETING}\n")

        with build_registry(dataclasses.replace(offline, sandbox_setting=mechanism)) as registry:
            outcome = registry.register(RegisterCommand(path=str(pack))).outcome

        assert outcome.test_result is not None
        suites = {suite.name: suite for suite in outcome.test_result.test_suites}
        assert {name: (s.status, s.passed) for name, s in suites.items()} == {
            "Unit Tests": ("passed", 1), "Pytest": ("passed", 6)}
        assert {s.isolation.mechanism for s in suites.values() if s.isolation} == {mechanism}
