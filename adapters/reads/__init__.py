"""The read side as the front ends use it: lookups with the registry's rules, and quick reads."""
