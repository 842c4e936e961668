"""Pure model of the pack registry: manifests, aggregates, events and policies. No I/O."""
