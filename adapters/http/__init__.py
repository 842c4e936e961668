"""The HTTP API (Litestar)."""

from attune_registry.adapters.http.app import create_app

__all__ = ["create_app"]
