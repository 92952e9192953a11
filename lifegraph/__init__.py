"""lifegraph: the composition root (settings, app factory, CLI, embedded database)."""
