"""Scripts that run inside the test process (standard library only)."""
