"""Upgrades are tested against their dependents, on both stores: `web` depends on `core ^1`
and its test imports a function from core's `lib` through `$PACKS_PATH`. A new `core` runs
web's suites against itself before it may replace the active version; each run is recorded as
a `dependency` test run of web that names the candidate."""

from __future__ import annotations

from uuid import UUID

import pytest

from attune_registry.domain.errors import DependentsActiveError, DependentsFailedError

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry

from tests.dependent_packs import BROKEN_GREETING, core, web
from tests.packs import manifest, write_pack


@pytest.fixture
def registry(settings, tmp_path):
    with build_registry(settings) as service:
        service.register(RegisterCommand(path=str(core(tmp_path, "1.0.0"))))
        service.register(RegisterCommand(path=str(web(tmp_path))))
        yield service


def dependency_runs(registry, ref: str = "web"):
    return registry.test_history(ref, trigger_reason="dependency")


def test_a_compatible_upgrade_passes_and_records_the_dependents_run(registry, tmp_path):
    done = registry.register(RegisterCommand(path=str(core(tmp_path, "1.1.0")), replace=True))

    assert (done.pack.version, done.outcome.forced) == ("1.1.0", False)
    [run] = dependency_runs(registry)
    assert (run.pack_ref, run.pack_version, run.status, run.passed) == ("web", "1.0.0",
                                                                        "passed", 2)
    # The run names the candidate it ran against, in its recorded event.
    test_run = registry.app.repository.get(UUID(run.test_run_id))
    assert test_run.trigger_reason == "dependency"
    assert test_run.candidate == {"registration_id": str(done.outcome.registration_id),
                                  "pack_ref": "core", "pack_version": "1.1.0"}
    assert registry.show("web").pack.version == "1.0.0"  # the dependent itself is unchanged


def test_an_upgrade_that_breaks_a_dependent_is_rejected_naming_it(registry, tmp_path):
    with pytest.raises(DependentsFailedError) as caught:
        registry.register(RegisterCommand(path=str(core(tmp_path, "1.2.0", BROKEN_GREETING)),
                                          replace=True))

    assert "the tests of 'web', which depends on 'core', did not pass against core 1.2.0" \
        in str(caught.value)
    [evidence] = caught.value.details
    assert evidence["pack_ref"] == "web"
    assert evidence["failing_cases"][0]["case"].endswith("test_greets_through_core")
    assert "bye web" in evidence["failing_cases"][0]["message"]
    [run] = dependency_runs(registry)
    assert (run.status, evidence["test_execution_id"]) == ("failed", run.id)
    assert registry.show("core").pack.version == "1.0.0"
    [rejected, *_] = registry.registrations("core")
    assert (rejected.pack_version, rejected.status, rejected.reason) == (
        "1.2.0", "rejected", "dependents_failed")


def test_force_commits_despite_a_broken_dependent_and_records_it_as_forced(registry, tmp_path):
    done = registry.register(RegisterCommand(path=str(core(tmp_path, "1.2.0", BROKEN_GREETING)),
                                             force=True))

    assert (done.pack.version, done.outcome.forced) == ("1.2.0", True)
    assert done.outcome.test_result.status == "passed"  # its own suites passed
    assert [run.status for run in dependency_runs(registry)] == ["failed"]
    assert registry.registrations("core")[0].forced is True


def test_skip_dependents_commits_without_running_them_and_is_recorded(registry, tmp_path):
    done = registry.register(RegisterCommand(path=str(core(tmp_path, "1.2.0", BROKEN_GREETING)),
                                             replace=True, skip_dependents=True))

    assert (done.pack.version, done.outcome.forced) == ("1.2.0", False)
    assert dependency_runs(registry) == []
    [requested] = [event for event in registry.audit(done.outcome.registration_id)
                   if event.topic.endswith("PackRegistrationRequested")]
    assert requested.state["skip_dependents"] is True
    assert registry.app.get_registration(done.outcome.registration_id).skip_dependents is True


def test_a_version_outside_a_dependents_range_is_refused_before_any_test(registry, tmp_path):
    before = registry.app.recorder.max_notification_id()

    with pytest.raises(DependentsActiveError) as caught:
        registry.register(RegisterCommand(path=str(core(tmp_path, "2.0.0")), replace=True))

    assert "web (needs core ^1)" in str(caught.value)
    assert "2.0.0" in str(caught.value)
    assert registry.app.recorder.max_notification_id() == before  # nothing recorded
    assert registry.show("core").pack.version == "1.0.0"


def test_force_accepts_a_version_outside_a_dependents_range(registry, tmp_path):
    done = registry.register(RegisterCommand(path=str(core(tmp_path, "2.0.0")), force=True))

    # web's suites still ran against 2.0.0 (its function is kept): they passed.
    assert (done.pack.version, done.outcome.forced) == ("2.0.0", False)
    assert [run.status for run in dependency_runs(registry)] == ["passed"]


def test_packs_path_shows_the_active_dependency_to_the_pack_and_to_manual_runs(registry,
                                                                              tmp_path):
    # Registering web ran its suites with core 1.0.0 in PACKS_PATH; so does `pack test`, of
    # the registered pack and of a directory.
    [registered] = registry.test_history("web", trigger_reason="register")
    assert (registered.status, registered.passed) == ("passed", 2)
    manual = registry.test_registered("web")
    assert (manual.result.status, manual.result.passed) == ("passed", 2)
    directory = registry.test_directory(str(tmp_path / "web"))
    assert (directory.result.status, directory.result.passed) == ("passed", 2)


def test_a_first_registration_and_a_pack_nobody_depends_on_run_no_dependents(registry,
                                                                              tmp_path):
    lamp = write_pack(tmp_path / "lamp", manifest("lamp"))
    registry.register(RegisterCommand(path=str(lamp)))
    registry.register(RegisterCommand(path=str(lamp), replace=True))
    registry.register(RegisterCommand(path=str(web(tmp_path)), replace=True))

    assert dependency_runs(registry, "web") == []
    assert dependency_runs(registry, "lamp") == []
