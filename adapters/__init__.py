"""Everything that touches the world: settings, store, pack files, test runners, CLI, HTTP."""
