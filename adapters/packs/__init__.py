"""Pack directories: loading and validating them, their file tree and digest, work directories."""
