"""Composition root: the one place settings become a wired registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.utils import Environment

from attune_registry.application.registry import PackRegistry

from attune_registry.projections.view import PROJECTION_NAME, RegistryView

from attune_registry.adapters.observability.events import ObservedRegistry
from attune_registry.adapters.packs.releases import ReleaseStore
from attune_registry.adapters.reads.reusable import ReadModelRuns
from attune_registry.adapters.service import RegistryService, UseCases
from attune_registry.adapters.settings import Settings
from attune_registry.adapters.store.config import StoreConfig, store_config
from attune_registry.adapters.store.setup import (
    diagnose,
    ensure_schema,
    is_set_up,
    mark_set_up,
    setup_lock,
    setup_stamp,
)

if TYPE_CHECKING:
    from attune_registry.application.dependents import DependentsTests
    from attune_registry.application.install_deps import InstallDependencies
    from attune_registry.application.packs_path import DependencyFolders
    from attune_registry.application.ports import (
        ActivePackReader,
        PackFetcher,
        PackLoader,
        Releases,
        ReusableRuns,
    )
    from attune_registry.application.queued import QueueRegistration

    from attune_registry.adapters.queue.status import QueueStatus
    from attune_registry.adapters.runners import SandboxRunner
    from attune_registry.adapters.store.release_blobs import ReleaseBlobs


def build_registry(settings: Settings | None = None, *, create: bool = True) -> RegistryService:
    """A registry on the configured store, with the filesystem loader and sandboxed runners.

    Without ``create`` (commands that only read), a store that does not exist is not created:
    StoreNotFoundError names the path, or the database and schema, it looked for.
    """
    settings = settings or Settings.from_env()
    config = store_config(settings, create=create)
    stamp = setup_stamp()
    set_up = is_set_up(config, stamp)
    if not (create or set_up) and config.is_postgres:  # (store_config checked a SQLite file)
        from attune_registry.adapters.store.probe import exists, not_found

        if not exists(config):
            raise not_found(config, "ATTUNE_DATABASE_URL")
    if set_up:
        env = {**config.env, "CREATE_TABLE": "n"}
        app = ObservedRegistry(env=env)  # logs what it saves (application events)
        factory, view = build_view(config, env)
        view.upgrade_read_models()  # one read when current; a rebuild if another version
    else:
        with setup_lock(config):
            ensure_schema(config)
            app = ObservedRegistry(env=config.env)
            factory, view = build_view(config, config.env)
            mark_set_up(config, stamp)
    # The service reads the active packs the use cases check dependencies against.
    service = RegistryService(app, view, lambda: build_use_cases(
                                  app, settings, service, reusable=ReadModelRuns(service)),
                           releases=ReleaseStore.of(settings),
                           keep_releases=lambda: settings.keep_releases,
                           on_workers=lambda: settings.tests_on_workers,
                           queue_status=queue_status(config),
                           closers=[app.close, factory.close], store_kind=config.kind,
                           unavailable=lambda exc: diagnose(config, exc))
    return service


def build_use_cases(app: PackRegistry, settings: Settings,
                    active: ActivePackReader | None = None, *,
                    reusable: ReusableRuns | None = None) -> UseCases:
    """The use cases that read pack files and run tests. Built on first use: reading commands
    never import the runners, the YAML loader or the test-running code. ``reusable``: the
    passing runs a registration may reuse (``--reuse``)."""
    from attune_registry.application.install import InstallPack
    from attune_registry.application.queued import QueueInstall
    from attune_registry.application.register import RegisterPack
    from attune_registry.application.test_pack import TestPack

    from attune_registry.adapters import holder
    from attune_registry.adapters.environments.cache import EnvironmentCache
    from attune_registry.adapters.install.sources import SourceFetcher
    from attune_registry.adapters.packs.loader import FilesystemPackLoader

    loader = FilesystemPackLoader(work_dir=settings.work_dir)
    runner = build_runner(settings)
    releases = ReleaseStore.of(settings)
    folders, dependents = build_dependents(app, settings, loader, runner, releases, active)
    environments = EnvironmentCache.of(settings)
    register = RegisterPack(app, loader, runner, releases=releases,
                            lease_grace=lambda: settings.lease_grace,
                            default_jobs=lambda: settings.test_jobs,
                            holder=holder.this_process, active=active,
                            folders=folders, dependents=dependents,
                            environments=environments, reusable=reusable)
    fetcher = SourceFetcher(settings.work_dir, lambda: settings.fetch_timeout)
    return UseCases(register_pack=register,
                    install_pack=InstallPack(register, fetcher),
                    test_pack=TestPack(app, loader, runner, releases=releases,
                                       default_jobs=lambda: settings.test_jobs,
                                       worker=holder.this_process, folders=folders,
                                       environments=environments),
                    queue_registration=lambda: build_queued(app, settings, loader, releases,
                                                            active),
                    queue_install=lambda: QueueInstall(
                        build_queued(app, settings, loader, releases, active), fetcher),
                    install_deps=build_install_deps(settings, loader, fetcher, active))


def build_dependents(app: PackRegistry, settings: Settings, loader: PackLoader,
                     runner: SandboxRunner, releases: Releases,
                     active: ActivePackReader | None
                     ) -> tuple[DependencyFolders, DependentsTests]:
    """What suites see of the packs they depend on (PACKS_PATH, in the work area), and the
    step that tests an upgrade against its active dependents (``releases``: this host's, or
    a worker's, filled from the database)."""
    from attune_registry.application.dependencies import NoActivePacks
    from attune_registry.application.dependents import DependentsTests
    from attune_registry.application.packs_path import DependencyFolders

    from attune_registry.adapters import holder
    from attune_registry.adapters.environments.cache import EnvironmentCache
    from attune_registry.adapters.packs.packs_path import PacksPathFolders

    folders = DependencyFolders(app, releases, PacksPathFolders())
    return folders, DependentsTests(app, loader, runner, releases=releases, folders=folders,
                                    active=active or NoActivePacks(),
                                    worker=holder.this_process,
                                    environments=EnvironmentCache.of(settings))


def build_install_deps(settings: Settings, loader: PackLoader, fetcher: PackFetcher,
                       active: ActivePackReader | None) -> InstallDependencies:
    """``--install-deps`` from the pack index of ``ATTUNE_PACK_INDEX``."""
    from attune_registry.application.dependencies import NoActivePacks
    from attune_registry.application.install_deps import InstallDependencies

    from attune_registry.adapters.install.index import ConfiguredIndex

    index = ConfiguredIndex(settings.pack_index, settings.work_dir,
                            lambda: settings.fetch_timeout)
    return InstallDependencies(loader, fetcher, index, active or NoActivePacks())


def build_runner(settings: Settings) -> SandboxRunner:
    """The suites' runner, in the sandbox the settings ask for."""
    from attune_registry.adapters.runners import SandboxRunner
    from attune_registry.adapters.sandbox import Sandbox, SandboxPolicy

    policy = SandboxPolicy.from_settings(
        settings.sandbox_setting, settings.sandbox_network_setting,
        settings.sandbox_limits_setting, settings.sandbox_max_limits_setting,
        settings.sandbox_share_setting)
    return SandboxRunner(Sandbox(policy))


def build_queued(app: PackRegistry, settings: Settings, loader: PackLoader,
                 releases: ReleaseStore,
                 active: ActivePackReader | None = None) -> QueueRegistration:
    """Queued registrations: PostgreSQL only (the queue and the releases live there)."""
    from attune_registry.application.queued import QueueRegistration

    from attune_registry.adapters.queue.jobs import SuiteJobs, queue_app

    config = queue_config(settings)
    _, dependents = build_dependents(app, settings, loader, build_runner(settings), releases,
                                     active)
    return QueueRegistration(app, loader, releases, release_blobs(config, settings),
                             SuiteJobs(queue_app(config)), dependents=dependents,
                             lease_grace=lambda: settings.lease_grace,
                             queue_wait=lambda: settings.queue_wait, active=active)


def queue_status(config: StoreConfig) -> QueueStatus | None:
    """Reads of the queue's workers and figures; None on the embedded store (no queue)."""
    if not config.is_postgres:
        return None
    from attune_registry.adapters.queue.status import QueueStatus

    return QueueStatus(config)


def queue_config(settings: Settings) -> StoreConfig:
    """The store's configuration, with the queue's tables ready.

    Raises: QueueNeedsPostgresError on the embedded store.
    """
    from attune_registry.adapters.queue.jobs import QueueNeedsPostgresError, ensure_queue_schema

    config = store_config(settings)
    if not config.is_postgres:
        raise QueueNeedsPostgresError()
    with setup_lock(config):
        ensure_schema(config)
        ensure_queue_schema(config)
        release_blobs(config, settings).ensure_table()
    return config


def release_blobs(config: StoreConfig, settings: Settings) -> ReleaseBlobs:
    from attune_registry.adapters.store.release_blobs import ReleaseBlobs
    from attune_registry.adapters.store.setup import connect

    return ReleaseBlobs(lambda: connect(config), config.env["POSTGRES_SCHEMA"],
                        max_bytes=settings.blob_max_bytes)


def build_view(config: StoreConfig, env: dict[str, str]
               ) -> tuple[InfrastructureFactory[TrackingRecorder], RegistryView]:
    factory = InfrastructureFactory.construct(Environment(PROJECTION_NAME, env))
    view_class: type[RegistryView]
    if config.is_postgres:
        from attune_registry.projections.postgres_view import PostgresRegistryView as view_class
    else:
        from attune_registry.projections.sqlite_view import SQLiteRegistryView as view_class
    view = factory.tracking_recorder(view_class)
    assert isinstance(view, RegistryView)
    return factory, view
