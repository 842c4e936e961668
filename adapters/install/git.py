"""Fetching a pack from a git repository at a ref, with the ``git`` command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from domain.errors import RegistryError
from domain.text import quoted

from adapters.packs.workspace import claim_empty_dir, clear_dir, remove_tree
from adapters.redact import mask_secrets, redact_url, url_secrets

DEFAULT_TIMEOUT_SECONDS = 300.0
# user@host:path, git's short form of an ssh URL.
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:(?!//)")
# Refs and commit names as a user types them; "-" first would read as an option.
_REF = re.compile(r"^[A-Za-z0-9._/+@-]+$")
_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
_SHOWN_STDERR_LINES = 5


class GitSourceError(RegistryError):
    """Raised when a git source cannot be fetched; the message never holds URL credentials."""


@dataclass(frozen=True)
class FetchedSource:
    """A checked-out tree (without ``.git``) and the commit it is."""

    path: Path
    commit: str
    source: str
    """The source as given, credentials masked: what may be shown and stored."""
    ref: str | None


def fetch_git(source: str, target: Path, ref: str | None = None,
              timeout: float = DEFAULT_TIMEOUT_SECONDS) -> FetchedSource:
    """Fetch ``source`` at ``ref`` into ``target`` and return the resolved commit.

    Tags and branches are fetched shallow (depth 1); a commit SHA is tried shallow too, and
    if the server will not serve it that way, every branch and tag is fetched and the SHA
    (full or abbreviated) is looked up among them. git runs without the user's or the system's
    configuration, hooks, credential helpers or prompts, and only with the transport the
    source names (``file`` only for local sources: ``ext::`` and the like never run).

    Args:
        source: an ``https://``, ``ssh://`` or ``file://`` URL, ``user@host:path``, or the path
            of a local repository.
        target: a directory that does not exist yet or is empty.
        ref: a tag, a branch or a commit SHA; None for the remote's HEAD.
        timeout: seconds for the whole fetch; git and its helpers are killed past it.

    Raises:
        GitSourceError: on any failure; ``target`` is then removed (if this call created it)
            or left empty.
    """
    url, transport = _classify(source)
    if ref is not None and (not _REF.match(ref) or ref.startswith("-") or ".." in ref):
        raise GitSourceError(f"Invalid git ref {quoted(ref)}")
    created = _prepare_target(target)
    git = _Git(target, transport, secrets=url_secrets(url), deadline=time.monotonic() + timeout,
               timeout=timeout)
    try:
        git.run("init", "-q", ".")
        commit = _fetch(git, url, ref)
        git.run("-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit)
    except BaseException:
        clear_dir(target, created)
        raise
    remove_tree(target / ".git")
    return FetchedSource(path=target, commit=commit, source=redact_url(source), ref=ref)


def _classify(source: str) -> tuple[str, str]:
    """(URL for git, transport name) or an error for what is no git source we accept."""
    shown = quoted(redact_url(source))
    if source.startswith("-"):
        raise GitSourceError(f"Invalid git source {shown}")
    scheme = urlsplit(source).scheme.lower() if "://" in source else ""
    if scheme in ("https", "ssh", "file"):
        return source, scheme
    if scheme:
        raise GitSourceError(f"Unsupported git source {shown}: use an https://, ssh:// or "
                             "file:// URL, user@host:path, or a local repository")
    if _SCP_LIKE.match(source):
        return source, "ssh"
    path = Path(source).expanduser()
    if path.is_dir():
        return str(path.resolve()), "file"
    raise GitSourceError(f"Git source {shown} is neither a URL nor a local repository")


def _prepare_target(target: Path) -> bool:
    created = claim_empty_dir(target)
    if created is None:
        raise GitSourceError(f"Target {str(target)!r} is not an empty directory")
    return created


def _fetch(git: _Git, url: str, ref: str | None) -> str:
    """Fetch ``ref`` (shallow when the server allows it) and return its full commit SHA."""
    shown = redact_url(url)
    try:
        git.run("fetch", "-q", "--depth", "1", "--no-tags", "--", url, ref or "HEAD")
        return git.commit("FETCH_HEAD")
    except GitSourceError:
        if ref is None or not _HEX.match(ref):
            raise
    # Servers may refuse a bare SHA (uploadpack.allowReachableSHA1InWant), and an abbreviated
    # one is no ref at all: fetch all branches and tags, then look the commit up locally.
    git.run("fetch", "-q", "--", url, "+refs/heads/*:refs/remotes/origin/*",
            "+refs/tags/*:refs/tags/*")
    try:
        return git.commit(ref)
    except GitSourceError:
        raise GitSourceError(f"Git ref {quoted(ref)} not found in {quoted(shown)}") from None


class _Git:
    """Runs git in one repository with a scrubbed environment and a shared deadline."""

    def __init__(self, repo: Path, transport: str, secrets: list[str], deadline: float,
                 timeout: float) -> None:
        self.repo = repo
        self.transport = transport
        self.secrets = secrets
        self.deadline = deadline
        self.timeout = timeout

    def commit(self, name: str) -> str:
        return self.run("rev-parse", "-q", "--verify", "--end-of-options",
                        f"{name}^{{commit}}").strip()

    def run(self, *args: str) -> str:
        command = ["git", *self._config(), *args]
        try:
            process = subprocess.Popen(command, cwd=self.repo, env=self._environment(),
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, start_new_session=True)
        except FileNotFoundError:
            raise GitSourceError("git is not installed (it is needed for git sources; "
                                 "archives and directories need nothing else)") from None
        try:
            stdout, stderr = process.communicate(timeout=max(self.deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            # git starts helpers (ssh, git-remote-https): kill its whole process group.
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise GitSourceError(f"git {args[0]} timed out after {self.timeout:g} seconds") \
                from None
        if process.returncode != 0:
            raise GitSourceError(self._failure(args, stderr.decode(errors="replace")))
        return stdout.decode(errors="replace")

    def _failure(self, args: tuple[str, ...], stderr: str) -> str:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        detail = "; ".join(lines[-_SHOWN_STDERR_LINES:]) or "no message"
        if args[0] == "fetch" and "couldn't find remote ref" in detail:
            detail = f"ref {quoted(args[-1])} not found"
        return mask_secrets(f"git {args[0]} failed: {detail}", self.secrets)

    def _config(self) -> list[str]:
        allow_file = "always" if self.transport == "file" else "never"
        return ["-c", "protocol.allow=never", "-c", f"protocol.{self.transport}.allow=always",
                "-c", f"protocol.file.allow={allow_file}", "-c", "core.hooksPath=/dev/null",
                "-c", "credential.helper=", "-c", "core.askPass=", "-c", "core.fsmonitor=false",
                "-c", "init.defaultBranch=main"]

    def _environment(self) -> dict[str, str]:
        """Only what git and ssh need; no user or system configuration, never a prompt."""
        keep = ("PATH", "HOME", "SSH_AUTH_SOCK", "SSL_CERT_FILE", "SSL_CERT_DIR",
                "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")
        environment = {name: os.environ[name] for name in keep if name in os.environ}
        environment.update({
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            # BatchMode: ssh fails instead of asking for a password or a passphrase.
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        })
        return environment
