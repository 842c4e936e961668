"""Installing packs: what SOURCE is, fetching it (git, download, archives), the managed store."""
