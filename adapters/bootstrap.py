"""Composition root: the one place settings become a wired registry."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from application.registry import PackRegistry
from projections.view import PROJECTION_NAME, RegistryView

from adapters.service import RegistryService, UseCases
from adapters.settings import Settings
from adapters.store.config import StoreConfig, store_config
from adapters.store.setup import (
    diagnose,
    ensure_schema,
    is_set_up,
    mark_set_up,
    setup_lock,
    setup_stamp,
)


def build_registry(settings: Settings | None = None) -> RegistryService:
    """A registry on the configured store, with the filesystem loader and sandboxed runners."""
    settings = settings or Settings.from_env()
    config = store_config(settings)
    stamp = setup_stamp()
    if is_set_up(config, stamp):
        env = {**config.env, "CREATE_TABLE": "n"}
        app = PackRegistry(env=env)
        factory, view = build_view(config, env)
        view.upgrade_read_models()  # one read when current; a rebuild if another version
    else:
        with setup_lock(config):
            ensure_schema(config)
            app = PackRegistry(env=config.env)
            factory, view = build_view(config, config.env)
            mark_set_up(config, stamp)
    return RegistryService(app, view, lambda: build_use_cases(app, settings),
                           closers=[app.close, factory.close],
                           default_jobs=lambda: settings.test_jobs,
                           unavailable=lambda exc: diagnose(config, exc))


def build_use_cases(app: PackRegistry, settings: Settings) -> UseCases:
    """The use cases that read pack files and run tests. Built on first use: reading commands
    never import the runners, the YAML loader or the test-running code."""
    from application.install import InstallPack
    from application.register import RegisterPack
    from application.test_pack import TestPack

    from adapters.install.sources import SourceFetcher
    from adapters.install.managed_store import InstalledPackStore
    from adapters.packs.loader import FilesystemPackLoader
    from adapters.runners import SandboxRunner

    loader, runner = FilesystemPackLoader(work_dir=settings.work_dir), SandboxRunner()
    register = RegisterPack(app, loader, runner, lease_grace=lambda: settings.lease_grace)
    install = InstallPack(register,
                          SourceFetcher(settings.work_dir, lambda: settings.fetch_timeout),
                          InstalledPackStore(settings.installed_dir, settings.work_dir))
    return UseCases(register, TestPack(app, loader, runner), install)


def build_view(config: StoreConfig, env: dict[str, str]
               ) -> tuple[InfrastructureFactory, RegistryView]:
    factory = InfrastructureFactory.construct(Environment(PROJECTION_NAME, env))
    if config.is_postgres:
        from projections.postgres_view import PostgresRegistryView as view_class
    else:
        from projections.sqlite_view import SQLiteRegistryView as view_class  # type: ignore[assignment]
    return factory, factory.tracking_recorder(view_class)  # type: ignore[type-var]
