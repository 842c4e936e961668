"""Versions side by side and kept releases made active again: `attune pack versions` and
`attune pack activate` through the CLI (in process, both stores), the HTTP API (Litestar's
test client, both stores) and the remote CLI (a real server)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_http import running_api
from tests.e2e.test_remote_cli import remote as remote_cli
from tests.packs import manifest, write_pack


def ok(run):
    assert run.returncode == 0, run.stderr + run.stdout
    return run


def data(run) -> dict:
    return json.loads(ok(run).stdout)["data"]


def version_of(root: Path, ref: str, version: str, **extra: object) -> Path:
    """A pack directory of ``ref`` at ``version`` (its passing unittest suite included)."""
    return write_pack(root / f"{ref}-{version}", manifest(ref, version, **extra))


def registered(cli, path: Path, *flags: str) -> dict:
    return data(cli("pack", "register", str(path), "-q", "--json", *flags))


def audit_topics(cli, registration_id: str) -> list[str]:
    events = data(cli("audit", registration_id, "--json"))["events"]
    return [event["topic"].rsplit(".", 1)[-1] for event in events]


class TestVersions:
    def test_every_committed_release_with_its_tests_state_and_release(self, cli, tmp_path):
        first = registered(cli, version_of(tmp_path, "demo", "1.0.0"))["pack"]
        second = registered(cli, version_of(tmp_path, "demo", "1.1.0"), "--replace")["pack"]
        third = registered(cli, version_of(tmp_path, "demo", "2.0.0"), "--replace",
                           "--skip-tests")["pack"]
        refused = cli("pack", "register", str(write_pack(
            tmp_path / "broken", manifest("demo", "3.0.0"),
            {"test_x.py": "import unittest\nclass T(unittest.TestCase):\n"
                          "    def test_no(self):\n        self.fail('no')\n"})), "--replace")
        assert refused.returncode == 1  # rejected: never committed, so never listed
        ok(cli("pack", "rollback", "demo", "--reason", "2.0.0 broke the dashboards"))

        found = data(cli("pack", "versions", "demo", "--json"))

        assert (found["ref"], found["active_version"]) == ("demo", "1.1.0")
        assert found["active_registration_id"] == second["registration_id"]
        rows = found["versions"]
        assert [(r["version"], r["registration_id"], r["active"], r["kept"]) for r in rows] == [
            ("2.0.0", third["registration_id"], False, True),
            ("1.1.0", second["registration_id"], True, True),
            ("1.0.0", first["registration_id"], False, True)]
        newest, active, oldest = rows
        assert newest["ended"]["how"] == "rolled_back"
        assert (newest["ended"]["version"], newest["ended"]["registration_id"]) == (
            "1.1.0", second["registration_id"])
        assert newest["ended"]["note"] == "2.0.0 broke the dashboards"
        assert (newest["tests_skipped"], newest["tests"]) == (True, None)
        assert active["ended"] is None
        assert active["tests"]["status"] == "passed"
        assert (active["tests"]["passed"], active["tests"]["total"]) == (2, 2)
        assert active["tests"]["reused"] is False
        assert active["tests"]["run_id"] == second["registration_id"]
        assert oldest["ended"]["how"] == "replaced"
        assert (oldest["ended"]["version"], oldest["ended"]["registration_id"]) == (
            "1.1.0", second["registration_id"])
        assert {r["content_digest"] for r in rows} == {
            first["content_digest"], second["content_digest"], third["content_digest"]}
        assert all(r["trigger"] == "register" and r["requested_by"].startswith("cli:")
                   for r in rows)

        text = ok(cli("pack", "versions", "demo")).stdout.splitlines()
        assert text[0] == "Pack 'demo': 3 committed releases (active: 1.1.0)"
        assert text[1].split() == ["VERSION", "DIGEST", "COMMITTED", "BY", "HOW", "TESTS",
                                   "STATE", "RELEASE", "REGISTRATION"]
        assert "rolled back to 1.1.0" in text[2] and "skipped" in text[2]
        assert f"sha256:{third['content_digest'][:12]}" in text[2]
        assert "rolled back by cli:" in text[3] and "2.0.0 broke the dashboards" in text[3]
        assert " active " in text[4] and "passed 2/2" in text[4]
        assert "replaced by 1.1.0" in text[5] and text[5].endswith(first["registration_id"])

    def test_an_unknown_ref_is_not_found(self, cli, tmp_path):
        registered(cli, version_of(tmp_path, "demo", "1.0.0"), "--skip-tests")
        missing = cli("pack", "versions", "nothing", "--json")
        assert missing.returncode == 1
        assert json.loads(missing.stdout) == {"error": "Pack 'nothing' not found",
                                              "code": "NOT_FOUND"}

    def test_an_unregistered_ref_still_lists_what_it_committed(self, cli, tmp_path):
        registered(cli, version_of(tmp_path, "demo", "1.0.0"), "--skip-tests")
        ok(cli("pack", "unregister", "demo"))
        found = data(cli("pack", "versions", "demo", "--json"))
        assert found["active_version"] is None
        [row] = found["versions"]
        assert (row["active"], row["ended"]["how"]) == (False, "unregistered")
        assert "(not active)" in ok(cli("pack", "versions", "demo")).stdout


class TestActivate:
    def test_an_older_version_becomes_active_as_a_new_registration(self, cli, tmp_path):
        old = registered(cli, version_of(tmp_path, "demo", "1.0.0"))["pack"]
        new = registered(cli, version_of(tmp_path, "demo", "2.0.0"), "--replace")["pack"]
        shutil.rmtree(tmp_path / "demo-1.0.0")  # its own directory is gone: the release is not

        done = json.loads(ok(cli("pack", "activate", "demo", "1.0.0", "--no-reuse", "-q",
                                 "--json")).stdout)

        assert done["message"] == "Pack 'demo' 1.0.0 activated"
        pack = done["data"]["pack"]
        assert (pack["version"], pack["content_digest"]) == ("1.0.0", old["content_digest"])
        assert pack["registration_id"] not in (old["registration_id"], new["registration_id"])
        assert done["data"]["release"] == {
            "registration_id": old["registration_id"], "version": "1.0.0",
            "digest": old["content_digest"], "other_digests": []}
        assert done["data"]["tests_reused"] is False
        assert done["data"]["test_result"]["status"] == "passed"
        assert data(cli("pack", "show", "demo", "--json"))["pack"]["version"] == "1.0.0"

        [latest, *_] = data(cli("pack", "history", "demo", "--json"))
        assert latest["id"] == pack["registration_id"]
        assert (latest["trigger_reason"], latest["status"]) == ("activate", "committed")
        assert latest["origin"] == {"type": "release", "registration_id": old["registration_id"],
                                    "version": "1.0.0", "digest": old["content_digest"]}
        assert latest["replaced_registration_id"] == new["registration_id"]
        assert "TestSuiteCompleted" in audit_topics(cli, latest["id"])  # its suites ran
        [run, *_] = data(cli("pack", "test-history", "demo", "--json"))
        assert (run["registration_id"], run["trigger_reason"]) == (latest["id"], "activate")

        summary = ok(cli("audit", latest["id"], "--summary")).stdout
        assert "asked to activate demo 1.0.0 again: the kept release 1.0.0" in summary
        feed = ok(cli("activity", "--ref", "demo")).stdout
        assert (f"requested 1.0.0 (activate from kept release 1.0.0, "
                f"sha256:{old['content_digest'][:12]}; replace)") in feed
        history = ok(cli("pack", "history", "demo")).stdout
        assert "from kept release 1.0.0" in history
        shown = ok(cli("pack", "show", "demo")).stdout
        assert "Activated from: kept release 1.0.0" in shown

        rows = data(cli("pack", "versions", "demo", "--json"))["versions"]
        assert [(r["version"], r["trigger"], r["active"]) for r in rows] == [
            ("1.0.0", "activate", True), ("2.0.0", "register", False),
            ("1.0.0", "register", False)]
        assert rows[1]["ended"]["how"] == "replaced"
        assert rows[1]["ended"]["registration_id"] == pack["registration_id"]

        # The replaced version is one rollback away, as after any registration.
        rolled = data(cli("pack", "rollback", "demo", "--json"))
        assert (rolled["version"], rolled["registration_id"]) == ("2.0.0",
                                                                   new["registration_id"])

    def test_by_digest_prefix_and_the_text_output(self, cli, tmp_path):
        old = registered(cli, version_of(tmp_path, "demo", "1.0.0"), "--skip-tests")["pack"]
        registered(cli, version_of(tmp_path, "demo", "2.0.0"), "--replace", "--skip-tests")

        report = tmp_path / "reports" / "activate.xml"
        done = ok(cli("pack", "activate", "demo", f"sha256:{old['content_digest'][:12]}",
                      "--no-reuse", "-q", "--junit-xml", str(report)))

        lines = done.stdout.splitlines()
        assert lines[0] == "✓ Pack 'demo' activated successfully"
        assert "Version: 1.0.0" in lines
        assert (f"Source: kept release 1.0.0 (sha256:{old['content_digest']}, first "
                f"committed by registration {old['registration_id']})") in lines
        assert "Tests: 2/2 passed" in lines
        xml = report.read_text()
        assert 'tests="2"' in xml and 'failures="0"' in xml and "test_adds" in xml

    def test_a_version_committed_with_two_contents_activates_the_newest_and_says_so(
            self, cli, tmp_path):
        path = version_of(tmp_path, "demo", "1.0.0")
        first = registered(cli, path, "--skip-tests")["pack"]
        (path / "README.md").write_text("changed without a new version\n")
        second = registered(cli, path, "--replace", "--skip-tests")["pack"]
        registered(cli, version_of(tmp_path, "demo", "2.0.0"), "--replace", "--skip-tests")

        done = ok(cli("pack", "activate", "demo", "1.0.0", "--no-reuse", "-q"))
        assert (f"⚠ Version 1.0.0 was also committed with other content "
                f"(sha256:{first['content_digest'][:12]}); the newest, "
                f"sha256:{second['content_digest'][:12]}, was activated: name a digest to "
                "choose another") in done.stdout.splitlines()
        assert data(cli("pack", "show", "demo", "--json"))["pack"]["content_digest"] == (
            second["content_digest"])

        again = json.loads(ok(cli("pack", "activate", "demo", first["content_digest"],
                                  "--no-reuse", "-q", "--json")).stdout)["data"]
        assert again["release"] == {"registration_id": first["registration_id"],
                                    "version": "1.0.0", "digest": first["content_digest"],
                                    "other_digests": []}
        assert again["pack"]["content_digest"] == first["content_digest"]

    def test_refusals_name_the_problem_and_record_nothing(self, cli, tmp_path):
        old = registered(cli, version_of(tmp_path, "demo", "1.0.0"), "--skip-tests")["pack"]
        new = registered(cli, version_of(tmp_path, "demo", "2.0.0"), "--replace",
                         "--skip-tests")["pack"]
        before = data(cli("pack", "history", "demo", "--json"))

        unknown = cli("pack", "activate", "demo", "1.5.0", "--json")
        assert unknown.returncode == 1
        assert json.loads(unknown.stdout) == {
            "error": "Pack 'demo' has no committed release 1.5.0 (committed: 1.0.0, 2.0.0)",
            "code": "RELEASE_NOT_FOUND"}
        no_digest = cli("pack", "activate", "demo", "ab" * 32)
        assert no_digest.returncode == 1
        assert f"has no committed release sha256:{'ab' * 32}" in no_digest.stderr

        active = cli("pack", "activate", "demo", new["content_digest"], "--json")
        assert active.returncode == 1
        assert json.loads(active.stdout) == {
            "error": f"Pack 'demo' 2.0.0 (sha256:{new['content_digest']}) is the active "
                     "release already; nothing was done", "code": "ALREADY_ACTIVE"}

        for malformed in ("latest", "v1.0.0", "sha256:abc", "1.0"):
            usage = cli("pack", "activate", "demo", malformed)
            assert usage.returncode == 2, malformed
            assert "Invalid release" in usage.stderr

        nothing = cli("pack", "activate", "nothing", "1.0.0")
        assert nothing.returncode == 1 and "Pack 'nothing' not found" in nothing.stderr

        assert data(cli("pack", "history", "demo", "--json")) == before
        assert data(cli("pack", "show", "demo", "--json"))["pack"]["registration_id"] == (
            new["registration_id"])
        assert old["registration_id"] in {row["id"] for row in before}

    def test_a_pruned_release_cannot_be_activated(self, cli, settings, tmp_path):
        old = registered(cli, version_of(tmp_path, "demo", "1.0.0"), "--skip-tests")["pack"]
        registered(cli, version_of(tmp_path, "demo", "2.0.0"), "--replace", "--skip-tests")
        ok(cli("pack", "unregister", "demo"))  # nothing active: no rollback keeps them
        registered(cli, version_of(tmp_path, "demo", "3.0.0"), "--skip-tests")
        cli.env["ATTUNE_KEEP_RELEASES"] = "1"
        ok(cli("pack", "prune"))
        # The directory it was registered from changed: its content cannot be adopted again.
        (tmp_path / "demo-1.0.0" / "pack.yaml").write_text("ref: demo\n")

        rows = data(cli("pack", "versions", "demo", "--json"))["versions"]
        assert [(r["version"], r["kept"]) for r in rows] == [
            ("3.0.0", True), ("2.0.0", False), ("1.0.0", False)]
        assert "pruned" in ok(cli("pack", "versions", "demo")).stdout
        before = data(cli("pack", "history", "demo", "--json"))

        refused = cli("pack", "activate", "demo", "1.0.0", "--json")

        assert refused.returncode == 1
        body = json.loads(refused.stdout)
        assert body["code"] == "CONFLICT"
        assert body["error"].startswith(
            f"Pack 'demo' 1.0.0 has no release (sha256:{old['content_digest']})")
        assert data(cli("pack", "history", "demo", "--json")) == before

    def test_the_dependents_ranges_gate_it(self, cli, tmp_path):
        registered(cli, version_of(tmp_path, "core", "1.0.0"), "--skip-tests")
        registered(cli, version_of(tmp_path, "core", "2.0.0"), "--replace", "--skip-tests")
        registered(cli, version_of(tmp_path, "web", "1.0.0", dependencies={"core": "^2"}),
                   "--skip-tests")
        before = data(cli("pack", "history", "core", "--json"))

        refused = cli("pack", "activate", "core", "1.0.0", "--no-reuse", "--json")

        assert refused.returncode == 1
        body = json.loads(refused.stdout)
        assert body["code"] == "DEPENDENTS_ACTIVE"
        assert body["details"] == [{"ref": "web", "wanted": "^2"}]
        assert data(cli("pack", "history", "core", "--json")) == before

    def test_the_dependencies_gate_it(self, cli, tmp_path):
        registered(cli, version_of(tmp_path, "core", "1.0.0"), "--skip-tests")
        registered(cli, version_of(tmp_path, "web", "1.0.0", dependencies={"core": "^1"}),
                   "--skip-tests")
        registered(cli, version_of(tmp_path, "web", "2.0.0"), "--replace", "--skip-tests")
        ok(cli("pack", "unregister", "core"))

        refused = cli("pack", "activate", "web", "1.0.0", "--json")

        assert refused.returncode == 1
        assert json.loads(refused.stdout)["code"] == "DEPENDENCIES_UNMET"
        assert data(cli("pack", "show", "web", "--json"))["pack"]["version"] == "2.0.0"

    def test_a_passing_run_of_the_same_content_is_reused(self, cli, tmp_path):
        old = registered(cli, version_of(tmp_path, "demo", "1.0.0"))["pack"]
        registered(cli, version_of(tmp_path, "demo", "2.0.0"), "--replace")

        done = json.loads(ok(cli("pack", "activate", "demo", "1.0.0", "-q",
                                 "--json")).stdout)["data"]

        assert done["tests_reused"] is True
        assert done["reused_run"]["run_id"] == old["registration_id"]
        activation = done["pack"]["registration_id"]
        [latest, *_] = data(cli("pack", "history", "demo", "--json"))
        assert (latest["id"], latest["reused_run_id"]) == (activation, old["registration_id"])
        topics = audit_topics(cli, activation)
        assert "TestsReused" in topics and "TestSuiteCompleted" not in topics
        [row, *_] = data(cli("pack", "versions", "demo", "--json"))["versions"]
        assert row["tests"]["reused"] is True
        assert row["tests"]["run_id"] == old["registration_id"]
        text = ok(cli("pack", "versions", "demo")).stdout.splitlines()
        assert "reused: passed 2/2" in text[2]
        assert f"  tests reused from run {old['registration_id']}" in text


def test_the_api_lists_and_activates_versions(settings, tmp_path):
    with running_api(settings, tmp_path) as api:
        def register(version: str, **flags: bool) -> dict:
            done = api.register(version_of(api.root, "demo", version), skip_tests=True, **flags)
            assert done.status_code == 201, done.text
            return done.json()["data"]["pack"]

        def activate(body: dict, headers: dict | None = None):
            return api.client.post("/api/v1/packs/demo/activate", json=body,
                                   headers=headers or api.write)

        old = register("1.0.0")
        new = register("2.0.0", replace=True)

        listed = api.get("/packs/demo/versions")
        assert listed.status_code == 200
        assert [(r["version"], r["active"], r["kept"]) for r in listed.json()["data"]
                ["versions"]] == [("2.0.0", True, True), ("1.0.0", False, True)]
        assert api.get("/packs/nothing/versions").status_code == 404

        unknown = activate({"version": "9.9.9"})
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "RELEASE_NOT_FOUND"
        current = activate({"digest": f"sha256:{new['content_digest']}"})
        assert (current.status_code, current.json()["code"]) == (409, "ALREADY_ACTIVE")
        for body in ({}, {"version": "1.0.0", "digest": old["content_digest"]},
                     {"version": "latest"}):
            bad = activate(body)
            assert bad.status_code == 400, (body, bad.text)
        assert activate({"digest": "abc"}).status_code == 422  # not even a prefix
        assert activate({"version": "1.0.0"}, api.read).status_code == 403
        assert len(api.get("/packs/demo/registrations").json()["data"]) == 2  # none recorded

        done = activate({"digest": old["content_digest"][:16], "reuse": False})

        assert done.status_code == 201, done.text
        body = done.json()
        assert body["message"] == "Pack 'demo' 1.0.0 activated"
        assert body["data"]["release"]["registration_id"] == old["registration_id"]
        assert body["data"]["pack"]["version"] == "1.0.0"
        assert body["data"]["test_result"]["status"] == "passed"
        [latest, *_] = api.get("/packs/demo/registrations").json()["data"]
        assert (latest["trigger_reason"], latest["origin"]["type"]) == ("activate", "release")
        assert api.get("/packs/demo").json()["data"]["pack"]["version"] == "1.0.0"

        # The dashboard tells the activation apart from an install, on the pack's timeline
        # and in the registration's story.
        signed_in = api.client.post("/ui/signin", data={"token": api.read["Authorization"][7:],
                                                         "next": "/ui/"}, follow_redirects=False)
        assert signed_in.status_code == 303
        page = api.client.get("/ui/packs/demo")
        assert page.status_code == 200
        assert "activate 1.0.0 (a kept release)" in page.text
        story = api.client.get(f"/ui/registrations/{latest['id']}")
        assert story.status_code == 200
        assert "asked to activate demo 1.0.0 again: the kept release 1.0.0" in story.text
        assert "install from" not in page.text + story.text


def test_the_remote_cli_prints_what_the_local_one_does(server, cli):
    def remote(*args: str) -> subprocess.CompletedProcess[str]:
        return remote_cli(server, *args, token=server.write_token)

    for version, flags in (("1.0.0", ()), ("2.0.0", ("--replace",))):
        done = remote("pack", "register", str(version_of(server.root, "demo", version)),
                      "--skip-tests", *flags)
        assert done.returncode == 0, done.stderr

    for args in (("pack", "versions", "demo"), ("pack", "versions", "demo", "--json")):
        there, here = remote(*args), cli(*args)
        assert (there.returncode, there.stdout) == (0, here.stdout), there.stderr

    activated = remote("pack", "activate", "demo", "1.0.0", "--no-reuse", "-q")
    assert activated.returncode == 0, activated.stderr
    assert "✓ Pack 'demo' activated successfully" in activated.stdout
    assert "Source: kept release 1.0.0" in activated.stdout
    refused = remote("pack", "activate", "demo", "1.0.0", "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["code"] == "ALREADY_ACTIVE"
    rows = json.loads(ok(cli("pack", "versions", "demo", "--json")).stdout)["data"]["versions"]
    assert (rows[0]["version"], rows[0]["trigger"], rows[0]["active"]) == (
        "1.0.0", "activate", True)


@pytest.mark.postgres
def test_on_workers_the_suites_of_an_activation_run_there(cluster, tmp_path):
    for version, flags in (("1.0.0", ()), ("2.0.0", ("--replace",))):
        done = cluster.attune("pack", "register", str(version_of(tmp_path, "demo", version)),
                              "--skip-tests", *flags)
        assert done.returncode == 0, done.stderr
    worker = cluster.start_worker("w")
    cluster.extra_env["ATTUNE_RUN_TESTS"] = "workers"

    # Reuse is asked for by default: a run on a worker cannot be matched here, so they run.
    done = cluster.data("pack", "activate", "demo", "1.0.0", "-q")

    assert isinstance(done, dict)
    assert (done["pack"]["version"], done["tests_reused"]) == ("1.0.0", False)
    assert done["test_result"]["status"] == "passed"
    [suite] = cluster.suites_of(done["pack"]["registration_id"])
    assert suite["worker"]["pid"] == worker.pid  # run by the worker, not here
