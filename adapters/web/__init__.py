"""The web dashboard: server-rendered pages for people."""
