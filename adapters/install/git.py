"""Fetching a pack from a git repository at a ref, with the ``git`` command."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.text import quoted

from attune_registry.adapters.install.location import InstallSourceError, parse_location
from attune_registry.adapters.install.network import current_policy, judged_addresses
from attune_registry.adapters.packs.workspace import claim_empty_dir, clear_dir, remove_tree
from attune_registry.adapters.redact import mask_secrets, redact_url, url_secrets

DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_PORTS = {"https": 443, "ssh": 22}
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
    url, transport, pin = _classify(source)
    if ref is not None and (not _REF.match(ref) or ref.startswith("-") or ".." in ref):
        raise GitSourceError(f"Invalid git ref {quoted(ref)}")
    created = _prepare_target(target)
    git = _Git(target, transport, secrets=url_secrets(url), deadline=time.monotonic() + timeout,
               timeout=timeout, pin=pin)
    try:
        git.run("init", "-q", ".")
        commit = _fetch(git, url, ref)
        git.run("-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit)
    except BaseException:
        clear_dir(target, created)
        raise
    remove_tree(target / ".git")
    return FetchedSource(path=target, commit=commit, source=redact_url(source), ref=ref)


@dataclass(frozen=True)
class Pin:
    """The addresses git must connect to for ``host``, judged by the address policy."""

    host: str
    port: int
    addresses: list[str]


def _classify(source: str) -> tuple[str, str, Pin | None]:
    """(URL for git, transport name, pinned addresses) or an error for what is no git source
    we accept. The source is classified and normalised by ``parse_location``, as the API's
    checks classify it; under an address policy, its host is looked up and judged here, once."""
    try:
        location = parse_location(source)
    except InstallSourceError as exc:
        raise GitSourceError(str(exc)) from None
    shown = quoted(redact_url(location.text))
    if location.kind == "path":
        path = Path(location.text)
        if path.is_dir():
            return str(path.resolve()), "file", None
        raise GitSourceError(f"Git source {shown} is neither a URL nor a local repository")
    transport = location.scheme
    if transport not in ("https", "ssh", "file"):
        raise GitSourceError(f"Unsupported git source {shown}: use an https://, ssh:// or "
                             "file:// URL, user@host:path, or a local repository")
    policy = current_policy()
    if transport == "file" or policy is None:
        return location.text, transport, None
    port = location.port or DEFAULT_PORTS[transport]
    return location.text, transport, Pin(location.host, port,
                                         judged_addresses(policy, location.host, port))


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
                 timeout: float, pin: Pin | None = None) -> None:
        self.repo = repo
        self.pin = pin
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
        config = ["-c", "protocol.allow=never", "-c", f"protocol.{self.transport}.allow=always",
                  "-c", f"protocol.file.allow={allow_file}", "-c", "core.hooksPath=/dev/null",
                  "-c", "credential.helper=", "-c", "core.askPass=", "-c", "core.fsmonitor=false",
                  "-c", "init.defaultBranch=main"]
        if self.pin is not None and self.transport == "https":
            # curl takes the judged addresses for this host and port instead of a lookup
            # (git >= 2.37); a redirect would go to a host nobody judged, so none is followed.
            addresses = ",".join(f"[{a}]" if ":" in a else a for a in self.pin.addresses)
            config += ["-c", f"http.curloptResolve={self.pin.host}:{self.pin.port}:{addresses}",
                       "-c", "http.followRedirects=false"]
        return config

    def _environment(self) -> dict[str, str]:
        """Only what git and ssh need; no user or system configuration, never a prompt."""
        keep: tuple[str, ...] = ("PATH", "HOME", "SSH_AUTH_SOCK", "SSL_CERT_FILE", "SSL_CERT_DIR")
        if self.pin is None:  # a proxy would look the host up itself: not when pinned
            keep += ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")
        environment = {name: os.environ[name] for name in keep if name in os.environ}
        environment.update({
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            # BatchMode: ssh fails instead of asking for a password or a passphrase.
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes" + self._ssh_pin(),
        })
        return environment

    def _ssh_pin(self) -> str:
        """ssh options connecting to the first judged address, with the host key still looked
        up under the host's name, and no proxy command that would look the name up."""
        if self.pin is None or self.transport != "ssh":
            return ""
        address, host = self.pin.addresses[0], self.pin.host
        return (f" -o HostName={shlex.quote(address)} -o HostKeyAlias={shlex.quote(host)}"
                " -o ProxyCommand=none -o ProxyJump=none")
