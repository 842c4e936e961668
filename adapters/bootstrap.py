"""Composition root: the one place settings become a wired registry."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from application.registry import PackRegistry
from projections.view import PROJECTION_NAME, RegistryView

from adapters.service import RegistryService, UseCases
from adapters.settings import Settings
from adapters.store import StoreConfig, ensure_schema, store_config


def build_registry(settings: Settings | None = None) -> RegistryService:
    """A registry on the configured store, with the filesystem loader and sandboxed runners."""
    settings = settings or Settings.from_env()
    config = store_config(settings)
    ensure_schema(config)
    app = PackRegistry(env=config.env)
    factory, view = build_view(config)
    return RegistryService(app, view, lambda: build_use_cases(app),
                           closers=[app.close, factory.close],
                           default_jobs=lambda: settings.test_jobs)


def build_use_cases(app: PackRegistry) -> UseCases:
    """The use cases that read pack files and run tests. Built on first use: reading commands
    never import the runners, the YAML loader or the test-running code."""
    from application.register import RegisterPack
    from application.test_pack import TestPack

    from adapters.packfiles import FilesystemPackLoader
    from adapters.runners import SandboxRunner

    loader, runner = FilesystemPackLoader(), SandboxRunner()
    return UseCases(RegisterPack(app, loader, runner), TestPack(app, loader, runner))


def build_view(config: StoreConfig) -> tuple[InfrastructureFactory, RegistryView]:
    factory = InfrastructureFactory.construct(Environment(PROJECTION_NAME, config.env))
    if config.is_postgres:
        from projections.postgres_view import PostgresRegistryView as view_class
    else:
        from projections.sqlite_view import SQLiteRegistryView as view_class  # type: ignore[assignment]
    return factory, factory.tracking_recorder(view_class)  # type: ignore[type-var]
