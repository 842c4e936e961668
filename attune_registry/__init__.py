"""The Attune pack registry, installed under one name of its own.

The repository keeps its four layers (``domain``, ``application``, ``projections``,
``adapters``) and the example packs (``packs``) at its top level; this package names them, by
relative links here and by copies in the wheel, so that installed they are
``attune_registry.domain`` and so on and cannot collide with another distribution's ``domain``.
"""
