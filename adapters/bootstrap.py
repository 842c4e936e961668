"""Composition root: the one place settings become a wired registry."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from application.register import RegisterPack
from application.registry import PackRegistry
from projections.view import PROJECTION_NAME, PostgresRegistryView, RegistryView, SQLiteRegistryView

from adapters.packfiles import FilesystemPackLoader
from adapters.runners import SandboxRunner
from adapters.service import RegistryService
from adapters.settings import Settings
from adapters.store import StoreConfig, ensure_schema, store_config


def build_registry(settings: Settings | None = None) -> RegistryService:
    """A registry on the configured store, with the filesystem loader and sandboxed runners."""
    config = store_config(settings or Settings.from_env())
    ensure_schema(config)
    app = PackRegistry(env=config.env)
    factory, view = build_view(config)
    register = RegisterPack(app, FilesystemPackLoader(), SandboxRunner())
    return RegistryService(app, view, register, closers=[app.close, factory.close])


def build_view(config: StoreConfig) -> tuple[InfrastructureFactory, RegistryView]:
    factory = InfrastructureFactory.construct(Environment(PROJECTION_NAME, config.env))
    view_class = PostgresRegistryView if config.is_postgres else SQLiteRegistryView
    return factory, factory.tracking_recorder(view_class)  # type: ignore[type-var]
