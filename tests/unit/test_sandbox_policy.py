"""What a suite may ask of the sandbox: pack.yaml's network and limits, inherited from the
testing section, and the server's defaults and maxima over them."""

from __future__ import annotations

import pytest

from attune_registry.domain.errors import ManifestError
from attune_registry.domain.manifest import SuiteLimits, TestSuite, parse_manifest
from attune_registry.domain.results import Isolation

from attune_registry.adapters.sandbox.policy import DEFAULT_LIMITS, SandboxPolicy, SuiteRefused


def suites(testing: dict) -> list[TestSuite]:
    data = {"ref": "mypack", "version": "1.0.0", "label": "My", "description": "d",
            "testing": {"test_suites": [{"name": "a", "runner": "shell"},
                                        {"name": "b", "runner": "shell", "network": False,
                                         "limits": {"processes": 8}}], **testing}}
    manifest = parse_manifest(data)
    assert manifest.testing is not None
    return manifest.testing.test_suites


def test_suites_inherit_the_sections_network_and_limits_one_by_one():
    first, second = suites({"network": True, "limits": {"memory_mb": 512, "processes": 64}})

    assert (first.network, first.limits) == (True, SuiteLimits(memory_mb=512, processes=64))
    assert (second.network, second.limits) == (False, SuiteLimits(memory_mb=512, processes=8))


def test_without_a_word_there_is_no_network_and_no_limit_asked():
    first, _ = suites({})
    assert (first.network, first.limits) == (False, None)


@pytest.mark.parametrize(("testing", "message"), [
    ({"limits": {"memory_mb": 0}},
     "Invalid pack.yaml: testing.limits.memory_mb: must be between 1 and 1048576, got 0"),
    ({"limits": {"ram": 1}}, "Invalid pack.yaml: testing.limits.ram: unknown field"),
    ({"network": "yes"}, "Invalid pack.yaml: testing.network: expected bool, got str"),
])
def test_bad_values_are_refused_naming_the_field(testing, message):
    with pytest.raises(ManifestError) as caught:
        suites(testing)
    assert str(caught.value) == message


def test_the_server_fills_in_defaults_and_cpu_time_follows_the_timeout():
    [first, _] = suites({"limits": {"memory_mb": 512}})
    limits = SandboxPolicy().limits_for(first)
    assert limits == {**DEFAULT_LIMITS, "memory_mb": 512, "cpu_seconds": first.timeout_seconds}


def test_the_servers_maxima_and_network_choice_refuse_suites():
    [first, _] = suites({"network": True, "limits": {"processes": 5000}})
    with pytest.raises(SuiteRefused, match="limits.processes: 5000 processes, above this "
                                           "server's maximum 4096"):
        SandboxPolicy().limits_for(first)
    with pytest.raises(SuiteRefused, match="ATTUNE_SANDBOX_NETWORK=deny"):
        SandboxPolicy.from_settings("auto", "deny", "", "").limits_for(
            suites({"network": True})[0])


def test_an_isolation_describes_itself_in_one_line():
    record = Isolation(mechanism="bwrap", network=False,
                       covers=["files", "processes", "network", "ipc", "identity", "limits"],
                       limits={"cpu_seconds": 60, "memory_mb": 1024})
    assert record.describe() == ("sandbox bwrap (files, processes, ipc, identity; no network; "
                                 "limits: 1024 MiB of memory, 60 s of CPU)")
    off = Isolation(mechanism="off", network=True, covers=["limits"])
    assert off.describe().startswith("sandbox OFF (ATTUNE_SANDBOX=off)")
