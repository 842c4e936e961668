"""Installing packs: where SOURCE points, fetching it (git, download, archives), the managed store."""
