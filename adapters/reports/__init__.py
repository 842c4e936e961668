"""Reports of stored test runs in formats other tools read (JUnit XML for CI systems)."""
