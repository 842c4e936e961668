"""Per-pack Python environments: a pack's requirements installed into a virtual environment
of its own, built outside the sandbox, cached and shared, read-only inside the sandbox."""
