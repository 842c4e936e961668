"""What every command shares: the registry session, common options, and who is acting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from attune_registry.adapters.cli import output

if TYPE_CHECKING:
    from attune_registry.adapters.cli.remote import RemoteRegistry
    from attune_registry.adapters.contract import Registry, RegistryReads

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the result as JSON (the API's body) instead of text.")
jobs_option = click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
                           help="Run up to N suites at once (default: $ATTUNE_TEST_JOBS or 1). "
                                "Results keep the declared order.")


@contextmanager
def registry_session(as_json: bool, *, local_only: str | None = None,
                     create: bool = False) -> Iterator[Registry]:
    """The configured registry (local store, or the API with --api-url); user-facing errors
    become one line (or JSON) and exit 1. ``local_only`` names a command that refuses
    remote mode. Only a command that records something passes ``create``: the others fail
    on a local store that does not exist, naming where they looked, and create nothing."""
    if local_only:
        refuse_remote(local_only, as_json)
    with user_errors(as_json):
        remote = _remote()
        if remote is not None:
            with remote:
                yield remote
            return
        from attune_registry.adapters.bootstrap import build_registry
        from attune_registry.adapters.settings import Settings

        with build_registry(Settings.from_env(), create=create) as registry:
            yield registry


@contextmanager
def reads_session(as_json: bool) -> Iterator[RegistryReads]:
    """``registry_session`` for a reading command: plain queries on current read models when
    it can (no event store start-up: see ``adapters.reads.quick``)."""
    _no_collection_at_exit()
    with user_errors(as_json):
        from attune_registry.adapters.reads.quick import quick_reads
        from attune_registry.adapters.settings import Settings

        remote = _remote()
        if remote is not None:
            with remote:
                yield remote
            return
        settings = Settings.from_env()
        with quick_reads(settings) as reads:
            if reads is not None:
                yield reads
                return
        from attune_registry.adapters.bootstrap import build_registry

        with build_registry(settings, create=False) as registry:
            yield registry


def _no_collection_at_exit() -> None:
    """Let the process skip the garbage collections of interpreter shutdown, which scan every
    object alive (tens of milliseconds once psycopg is loaded) to free memory the OS frees
    anyway: at exit, before them, what is alive is frozen out of the collector's sight. A
    read holds nothing whose finaliser matters then: its connections are closed by then."""
    import atexit
    import gc

    atexit.unregister(gc.freeze)  # once per process, however many commands it runs
    atexit.register(gc.freeze)


def _remote() -> RemoteRegistry | None:
    """The API client when --api-url (or ATTUNE_API_URL) is given."""
    options = click.get_current_context().find_root().params
    if not options.get("api_url"):
        return None
    from attune_registry.adapters.cli.remote import RemoteRegistry

    return RemoteRegistry(options["api_url"], options.get("token"))


@contextmanager
def user_errors(as_json: bool) -> Iterator[None]:
    from attune_registry.domain.errors import RegistryError

    from attune_registry.adapters.settings import ConfigError

    try:
        yield
    except (RegistryError, ConfigError) as exc:
        # A rejection carries its evidence (``TestsFailedError``, or the API's body).
        output.abort(str(exc), code=exc.code, as_json=as_json,
                     details=getattr(exc, "details", None))


def refuse_remote(command: str, as_json: bool) -> None:
    """Exit 1 if ``command``, which works on the local store only, was given an API URL."""
    if click.get_current_context().find_root().params.get("api_url"):
        output.abort(f"`attune {command}` works on the local store only; run it without "
                     "--api-url (and ATTUNE_API_URL) where the store is", code="LOCAL_ONLY",
                     as_json=as_json)


def actor() -> str:
    """Who is acting, as recorded in events: ``cli:`` and the operating-system account this
    process runs as (its effective uid), never a name from the environment (``LOGNAME``,
    ``USER``...), which anyone can set. An account without a name is its uid number."""
    import os
    import pwd

    uid = os.geteuid()
    try:
        return f"cli:{pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"cli:{uid}"
