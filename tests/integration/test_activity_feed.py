"""The activity feed's read models on both stores: every event of the log becomes one row, in
log order, with who acted, its ref and registration, a readable line and the stored event;
every ref ever submitted keeps its state. Replays give the same rows."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event

from attune_registry.domain.errors import PackNotFoundError, TestsFailedError

from attune_registry.application.commands import InstallCommand, RegisterCommand

from attune_registry.projections.activity_queries import ActivityFilter, ActivityQueries
from attune_registry.projections.tables import READ_MODEL_TABLES

from attune_registry.adapters.bootstrap import build_registry

from tests.integration.test_event_upcasting import old_events, store
from tests.packs import failing_tests, manifest, write_pack


@pytest.fixture
def registry(settings):
    with build_registry(settings) as service:
        yield service


def register(registry, path, actor, **flags):
    return registry.register(RegisterCommand(path=str(path), requested_by=actor, **flags))


def history(registry, tmp_path):
    """lamp: 1.0.0 by alice, 1.1.0 rejected (bob), 1.2.0 forced without tests (carol), rolled
    back by dave; ghost: only ever rejected (erin); gone: registered, then unregistered; a
    token issued and revoked; a manual run of lamp (frank). Returns the ids of interest."""
    lamp1 = write_pack(tmp_path / "lamp1", manifest("lamp", "1.0.0"))
    lamp11 = write_pack(tmp_path / "lamp11", manifest("lamp", "1.1.0"),
                        {"test_mixed.py": failing_tests(passed=3, failed=1)})
    lamp12 = write_pack(tmp_path / "lamp12", manifest("lamp", "1.2.0"))
    ghost = write_pack(tmp_path / "ghost", manifest("ghost", "0.1.0"),
                       {"test_mixed.py": failing_tests(passed=0, failed=2)})
    gone = write_pack(tmp_path / "gone", manifest("gone", "1.0.0"))
    ids = {"lamp1": register(registry, lamp1, "cli:alice").pack.registration_id}
    with pytest.raises(TestsFailedError) as rejected:
        register(registry, lamp11, "cli:bob", replace=True)
    ids["lamp11"] = str(rejected.value.registration_id)
    ids["lamp12"] = register(registry, lamp12, "cli:carol", force=True,
                             skip_tests=True).pack.registration_id
    registry.roll_back("lamp", actor="cli:dave", note="1.2.0 breaks the dashboard")
    with pytest.raises(TestsFailedError) as never:
        register(registry, ghost, "cli:erin")
    ids["ghost"] = str(never.value.registration_id)
    ids["gone"] = register(registry, gone, "cli:alice", skip_tests=True).pack.registration_id
    registry.unregister("gone", actor="cli:bob", note="retired")
    registry.create_token("ci", "read", actor="cli:admin")
    registry.revoke_token("ci", actor="cli:root")
    registry.test_registered("lamp", requested_by="cli:frank")
    return ids


def feed(registry, **filters):
    return registry.activity(ActivityFilter(limit=10_000, **filters)).rows


def test_every_event_of_the_log_is_one_row_in_log_order(registry, tmp_path):
    history(registry, tmp_path)

    rows = feed(registry)
    log = registry.app.recorder.select_notifications(start=1, limit=10_000)

    assert [(r.position, r.event.topic) for r in rows] == [(n.id, n.topic) for n in log]
    assert [(r.event.originator_id, r.event.originator_version) for r in rows] == [
        (str(n.originator_id), n.originator_version) for n in log]
    # The raw event is the state as stored: the request carries its manifest and who asked.
    requested = next(r for r in rows if r.kind == "registration.requested")
    assert requested.event.state["manifest"]["ref"] == "lamp"
    assert requested.event.state["requested_by"] == "cli:alice"
    assert requested.event.state["class_version"] == 3


def test_each_row_says_who_did_what_to_which_ref(registry, tmp_path):
    ids = history(registry, tmp_path)

    lines = [(r.kind, r.ref, r.version, r.actor, r.registration_id, r.summary)
             for r in feed(registry) if r.kind.startswith(("registration.", "test_run.",
                                                           "token."))]

    suite = "suite 'Unit Tests' {}: {}/{} passed (python_unittest)"
    assert lines == [
        ("registration.requested", "lamp", "1.0.0", "cli:alice", ids["lamp1"],
         "requested 1.0.0 (register)"),
        ("registration.suite_completed", "lamp", "1.0.0", "cli:alice", ids["lamp1"],
         suite.format("passed", 2, 2)),
        ("registration.committed", "lamp", "1.0.0", "cli:alice", ids["lamp1"],
         "committed 1.0.0 (2/2 passed)"),
        ("registration.requested", "lamp", "1.1.0", "cli:bob", ids["lamp11"],
         "requested 1.1.0 (register; replace)"),
        ("registration.suite_completed", "lamp", "1.1.0", "cli:bob", ids["lamp11"],
         suite.format("failed", 3, 4)),
        ("registration.rejected", "lamp", "1.1.0", "cli:bob", ids["lamp11"],
         "rejected 1.1.0: tests failed (3/4 passed)"),
        ("registration.requested", "lamp", "1.2.0", "cli:carol", ids["lamp12"],
         "requested 1.2.0 (register; force, skip-tests)"),
        ("registration.committed", "lamp", "1.2.0", "cli:carol", ids["lamp12"],
         "committed 1.2.0 (tests skipped), replacing 1.0.0"),
        ("registration.rolled_back", "lamp", "1.2.0", "cli:dave", ids["lamp12"],
         "rolled back 1.2.0; 1.0.0 active again; reason: 1.2.0 breaks the dashboard"),
        ("registration.requested", "ghost", "0.1.0", "cli:erin", ids["ghost"],
         "requested 0.1.0 (register)"),
        ("registration.suite_completed", "ghost", "0.1.0", "cli:erin", ids["ghost"],
         suite.format("failed", 0, 2)),
        ("registration.rejected", "ghost", "0.1.0", "cli:erin", ids["ghost"],
         "rejected 0.1.0: tests failed (0/2 passed)"),
        ("registration.requested", "gone", "1.0.0", "cli:alice", ids["gone"],
         "requested 1.0.0 (register; skip-tests)"),
        ("registration.committed", "gone", "1.0.0", "cli:alice", ids["gone"],
         "committed 1.0.0 (tests skipped)"),
        ("registration.rolled_back", "gone", "1.0.0", "cli:bob", ids["gone"],
         "unregistered 1.0.0; reason: retired"),
        ("token.issued", None, None, "cli:admin", None, "token 'ci' issued, scope read"),
        ("token.revoked", None, None, "cli:root", None, "token 'ci' revoked"),
        ("test_run.requested", "lamp", "1.0.0", "cli:frank", ids["lamp1"],
         "manual test run of 1.0.0 started"),
        ("test_run.suite_completed", "lamp", "1.0.0", "cli:frank", ids["lamp1"],
         suite.format("passed", 2, 2)),
        ("test_run.completed", "lamp", "1.0.0", "cli:frank", ids["lamp1"],
         "manual test run passed (2/2 passed)"),
    ]
    notes = {r.kind: r.note for r in feed(registry, ref="gone")}
    assert notes["registration.rolled_back"] == "retired"
    assert notes["registration.requested"] is None


def test_pack_events_carry_the_actor_of_the_registration_saved_with_them(registry, tmp_path):
    ids = history(registry, tmp_path)

    pack_rows = [(r.kind, r.ref, r.actor, r.registration_id, r.summary)
                 for r in feed(registry) if r.kind.startswith("pack.")]

    # Saved before their registration's event (a request) or after it (a decision, a
    # rollback, an unregister): either way they name who acted.
    lease = [row[:4] for row in pack_rows if row[0] == "pack.registration_opened"]
    assert lease == [("pack.registration_opened", "lamp", "cli:alice", ids["lamp1"]),
                     ("pack.registration_opened", "lamp", "cli:bob", ids["lamp11"]),
                     ("pack.registration_opened", "lamp", "cli:carol", ids["lamp12"]),
                     ("pack.registration_opened", "ghost", "cli:erin", ids["ghost"]),
                     ("pack.registration_opened", "gone", "cli:alice", ids["gone"])]
    assert [row for row in pack_rows if row[0] != "pack.registration_opened"] == [
        ("pack.created", "lamp", "cli:alice", None, "ref first submitted"),
        ("pack.activated", "lamp", "cli:alice", ids["lamp1"], "1.0.0 active"),
        ("pack.registration_closed", "lamp", "cli:bob", ids["lamp11"], "lease released"),
        ("pack.activated", "lamp", "cli:carol", ids["lamp12"], "1.2.0 active"),
        ("pack.rolled_back", "lamp", "cli:dave", ids["lamp12"], "1.0.0 active again"),
        ("pack.created", "ghost", "cli:erin", None, "ref first submitted"),
        ("pack.registration_closed", "ghost", "cli:erin", ids["ghost"], "lease released"),
        ("pack.created", "gone", "cli:alice", None, "ref first submitted"),
        ("pack.activated", "gone", "cli:alice", ids["gone"], "1.0.0 active"),
        ("pack.unregistered", "gone", "cli:bob", ids["gone"], "no version active"),
    ]


def test_a_cancel_names_who_cancelled_on_the_lease_it_released(registry, tmp_path):
    pack = write_pack(tmp_path / "stuck", manifest("stuck"))
    # A registration whose process is lost, its lease running for another hour.
    source = registry.cases.register_pack.loader.load(str(pack))
    registry.app.request_registration(
        RegisterCommand(path=str(pack), requested_by="cli:ghost"),
        manifest=source.manifest, components=[], source_path=str(pack),
        content_digest="0" * 64, lease_expires=datetime.now(UTC) + timedelta(hours=1),
        now=datetime.now(UTC))

    registry.cancel("stuck", actor="cli:ops", force=True, note="runner lost")

    *_, closed, rejected = feed(registry, ref="stuck")
    # The lease is released first, then the registration is rejected, in one transaction.
    assert (closed.kind, closed.actor) == ("pack.registration_closed", "cli:ops")
    assert (rejected.kind, rejected.actor, rejected.note) == (
        "registration.rejected", "cli:ops", "runner lost")
    assert rejected.summary == ("rejected 1.0.0: abandoned: cancelled by cli:ops (with --force)"
                                "; reason: runner lost")
    [state] = registry.ref_states()
    assert (state.state, state.by, state.note) == ("rejected", "cli:ops", "runner lost")


def test_an_install_says_where_the_pack_came_from(registry, tmp_path):
    pack = write_pack(tmp_path / "lamp", manifest("lamp"))

    registry.install(InstallCommand(source=str(pack), skip_tests=True, requested_by="cli:ann"))

    [requested] = feed(registry, actor="cli:ann")[2:3]
    assert (requested.kind, requested.summary) == (
        "registration.requested", f"requested 1.0.0 (install from directory {pack}; skip-tests)")
    assert requested.event.state["origin"] == {"type": "directory", "source": str(pack)}


def test_filters_by_ref_actor_time_and_position(registry, tmp_path):
    history(registry, tmp_path)
    everything = feed(registry)
    middle = everything[len(everything) // 2]

    by_ref = feed(registry, ref="ghost")
    by_actor = feed(registry, actor="cli:bob")
    both = feed(registry, ref="lamp", actor="cli:bob")
    since = feed(registry, since=datetime.fromisoformat(middle.at))
    after = feed(registry, after=middle.position)
    newest = registry.activity(ActivityFilter(limit=3, newest_first=True))
    first = registry.activity(ActivityFilter(limit=3))

    assert by_ref == [r for r in everything if r.ref == "ghost"] and len(by_ref) >= 6
    assert by_actor == [r for r in everything if r.actor == "cli:bob"]
    assert {r.ref for r in by_actor} == {"lamp", "gone"}
    assert both == [r for r in by_actor if r.ref == "lamp"] and both
    assert since == [r for r in everything if r.at >= middle.at]
    assert since[0].position <= middle.position
    assert after == everything[everything.index(middle) + 1:]
    assert (newest.rows, newest.more) == (everything[::-1][:3], True)
    assert (first.rows, first.more) == (everything[:3], True)
    assert registry.activity(ActivityFilter(limit=1000)).more is False
    assert feed(registry, actor="cli:nobody") == []
    with pytest.raises(PackNotFoundError, match="Pack 'nope' not found"):
        feed(registry, ref="nope")


def test_since_is_exact_when_event_times_are_out_of_log_order(registry, tmp_path):
    history(registry, tmp_path)
    rows = feed(registry)
    # A Pack event is created before the registration event saved after it, and so on: the
    # times of consecutive rows are not always in log order. Every cut point still selects
    # exactly the events at or after it.
    assert any(a.at > b.at for a, b in pairwise(rows))
    for row in rows:
        cut = datetime.fromisoformat(row.at)
        assert feed(registry, since=cut) == [r for r in rows if r.at >= row.at]
    later = datetime.fromisoformat(rows[-1].at) + timedelta(microseconds=1)
    assert feed(registry, since=later) == []


def test_every_ref_ever_submitted_has_its_state(registry, tmp_path):
    ids = history(registry, tmp_path)

    states = {s.ref: s for s in registry.ref_states()}

    assert list(states) == ["ghost", "gone", "lamp"]
    lamp, ghost, gone = states["lamp"], states["ghost"], states["gone"]
    assert (lamp.state, lamp.version, lamp.registration_id, lamp.by, lamp.note) == (
        "active", "1.0.0", ids["lamp1"], "cli:dave", "1.2.0 breaks the dashboard")
    assert (lamp.last_kind, lamp.last_actor, lamp.last_summary) == (
        "test_run.completed", "cli:frank", "manual test run passed (2/2 passed)")
    assert (ghost.state, ghost.version, ghost.registration_id, ghost.by) == (
        "rejected", "0.1.0", ids["ghost"], "cli:erin")
    assert ghost.last_summary == "rejected 0.1.0: tests failed (0/2 passed)"
    assert (gone.state, gone.version, gone.by, gone.note) == (
        "unregistered", "1.0.0", "cli:bob", "retired")
    assert gone.since == gone.last_at and gone.first_seen < gone.since
    # `pack list` shows only lamp; the others are only in --all.
    assert [p.ref for p in registry.list_packs()] == ["lamp"]


def test_a_new_attempt_puts_a_rejected_ref_in_progress_and_an_active_one_stays(
        registry, tmp_path):
    ghost = write_pack(tmp_path / "ghost", manifest("ghost"),
                       {"test_mixed.py": failing_tests(passed=0, failed=1)})
    with pytest.raises(TestsFailedError):
        register(registry, ghost, "cli:erin")
    assert registry.ref_states()[0].state == "rejected"

    register(registry, ghost, "cli:erin", force=True)
    with pytest.raises(TestsFailedError):
        register(registry, write_pack(tmp_path / "ghost2", manifest("ghost", "2.0.0"),
                                      {"test_mixed.py": failing_tests(passed=0, failed=1)}),
                 "cli:erin", replace=True)

    [state] = registry.ref_states()
    assert (state.state, state.version) == ("active", "1.0.0")
    assert state.last_summary == "rejected 2.0.0: tests failed (0/1 passed)"
    committed = [r for r in feed(registry, ref="ghost") if r.kind == "registration.committed"]
    assert committed[0].summary == "committed 1.0.0 despite failing tests (forced; 0/1 passed)"


def test_a_rebuild_replays_identical_rows_whatever_the_batches(registry, tmp_path):
    history(registry, tmp_path)
    rows, states = feed(registry), registry.ref_states()

    # Batches of one, two or three events split the events of one save between batches:
    # what a row needs from earlier ones is then read back from the tables.
    for batch_size in (1, 2, 3, 500):
        registry.rebuild(batch_size=batch_size)

        assert feed(registry) == rows, batch_size
        assert registry.ref_states() == states, batch_size


def test_catching_up_one_event_at_a_time_gives_the_same_rows(registry, tmp_path):
    history(registry, tmp_path)
    rows, states = feed(registry), registry.ref_states()
    with registry.view._projection_transaction() as cursor:
        for table in ("activity", "pack_ref_state"):
            cursor.execute(registry.view.dialect.sql(f"DELETE FROM {{t}}{table}"))
    registry.rebuild()  # the other read models, and the position, as they were

    # Each catch-up is a transaction of its own, starting from the rows written before.
    with registry.view._projection_transaction() as cursor:
        for table in READ_MODEL_TABLES:
            cursor.execute(registry.view.dialect.sql(f"DELETE FROM {{t}}{table}"))
        registry.view._forget_position(cursor, registry.app.name)
    while registry.view.project(registry.app, batch_size=1, max_batches=1):
        pass

    assert feed(registry) == rows
    assert registry.ref_states() == states


def test_saves_of_many_aggregates_in_any_order_give_the_same_rows_in_any_batches(registry):
    """Other writers (the benchmark's) save many registrations and packs at once, registration
    events first: the rows are the same however the log is cut into batches, and a ``Pack``
    event is never given the actor of another save."""
    from bench.projection_throughput import write_history

    write_history(registry, 300)  # about 1,400 events, 50 registrations per save
    registry.rebuild()
    whole = feed(registry)
    states = registry.ref_states()

    with registry.view._projection_transaction() as cursor:
        for table in READ_MODEL_TABLES:
            cursor.execute(registry.view.dialect.sql(f"DELETE FROM {{t}}{table}"))
        registry.view._forget_position(cursor, registry.app.name)
    while registry.view.project(registry.app, batch_size=20, max_batches=1):
        pass

    assert feed(registry) == whole
    assert registry.ref_states() == states
    created = [r for r in whole if r.kind == "pack.created"]
    assert len(created) == 200 and {r.actor for r in created} == {None}


def test_secrets_in_stored_events_never_reach_the_feed(registry):
    _, issued = registry.create_token("ci", "write", actor="cli:admin")
    hook = Webhook(url="https://hooks.example/x", signing_secret="s3cr3t", actor="cli:ops")
    registry.app.save(hook)

    token_row, hook_row = feed(registry)

    assert token_row.event.state["secret_hash"] == "[redacted]"
    assert token_row.event.state["name"] == "ci"
    stored = registry.app.get_token(UUID(issued.id)).secret_hash
    assert stored not in repr(token_row)
    # An event of a kind the feed was not written for (added later) still gets a row.
    assert (hook_row.kind, hook_row.actor, hook_row.summary) == (
        "webhook.added", "cli:ops", "webhook added")
    assert hook_row.event.state["signing_secret"] == "[redacted]"
    assert hook_row.event.state["url"] == "https://hooks.example/x"


class Webhook(Aggregate):
    """Stands for an aggregate added after the feed: its events get generic rows."""

    TOPIC = "test:Webhook"

    class Created(Aggregate.Created):
        TOPIC = "test:Webhook.Created"

    class Added(Aggregate.Created):
        TOPIC = "test:Webhook.WebhookAdded"

        url: str
        signing_secret: str
        actor: str

    @event(Added)
    def __init__(self, *, url: str, signing_secret: str, actor: str) -> None:
        self.url = url


def test_events_recorded_before_later_shapes_project_as_stored(registry):
    """The v1 events of the fixture (before ``origin``) get their rows, and the raw state is
    the stored one, not the upcast one."""
    store(registry, old_events())

    rows = feed(registry)

    requested = next(r for r in rows if r.kind == "registration.requested")
    assert "origin" not in requested.event.state
    assert "class_version" not in requested.event.state
    assert (requested.ref, requested.version, requested.summary) == (
        "lamp", "1.0.0", "requested 1.0.0 (register)")
    assert [s.state for s in registry.ref_states()] == ["active"]


SINCE = datetime(2020, 1, 1, tzinfo=UTC)
PK = "sqlite_autoindex_activity_1"  # the primary key: position


@pytest.mark.parametrize(("query", "indexes"), [
    (ActivityFilter(), [PK]),
    (ActivityFilter(newest_first=True, before=9), [PK]),
    (ActivityFilter(ref="lamp"), ["activity_ref_idx"]),
    (ActivityFilter(actor="cli:bob"), ["activity_actor_idx"]),
    (ActivityFilter(ref="lamp", actor="cli:bob", after=3), ["activity_ref_actor_idx"]),
    (ActivityFilter(since=SINCE), [PK, "activity_time_idx"]),
    (ActivityFilter(since=SINCE, ref="lamp"), ["activity_ref_idx", "activity_time_idx"]),
])
def test_each_filter_reads_one_index_range(sqlite_settings, query, indexes):
    """On SQLite, each query of the feed searches an index that ends in the position (and,
    for a time, finds its first position in the time index): no table scan and no sort,
    so a page costs about the same however long the log is."""
    with build_registry(sqlite_settings) as registry:
        registry.create_token("ci", "read", actor="cli:admin")
    connection = sqlite3.connect(sqlite_settings.sqlite_path)
    sent: list[tuple[str, dict]] = []

    class Explained(ActivityQueries):
        def _select(self, sql, params):
            sent.append((sql.replace("{t}", ""), params))
            return []

    Explained().activity(query)

    [(sql, params)] = sent
    plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    searches = [line for line in plan if line.startswith(("SEARCH", "SCAN"))]
    assert [line.split()[0] for line in searches] == ["SEARCH"] * len(indexes), plan
    assert [line.split(" INDEX ")[1].split()[0] for line in searches] == indexes, plan
    assert not any("TEMP B-TREE" in line for line in plan), plan
