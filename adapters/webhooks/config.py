"""The webhook settings, checked: which targets are allowed, the timeout, the retry schedule."""

from __future__ import annotations

from dataclasses import dataclass

from attune_registry.adapters.settings import ConfigError, Settings

# Seconds to wait before each retry: Standard Webhooks' usual schedule (5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h): eight attempts over about 27 hours, growing roughly exponentially.
DEFAULT_RETRY_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_RETRIES = 20
MAX_WAIT_SECONDS = 7 * 86400
MAX_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class WebhookConfig:
    """How deliveries are made."""

    allow_private: bool = False
    """``ATTUNE_WEBHOOK_ALLOW_PRIVATE=1``: also loopback, private, link-local... targets."""
    allow_http: bool = False
    """``ATTUNE_WEBHOOK_ALLOW_HTTP=1``: also plain ``http://`` targets (default: https only)."""
    timeout: float = 10.0
    """``ATTUNE_WEBHOOK_TIMEOUT_SECONDS``: the most one attempt may take, whole."""
    retry_seconds: tuple[int, ...] = DEFAULT_RETRY_SECONDS
    """``ATTUNE_WEBHOOK_RETRY_SECONDS``: the waits before each retry; their number is the
    number of retries."""
    public_url: str = ""
    """``ATTUNE_PUBLIC_URL``: the registry's address for its clients; links in payloads are
    absolute with it, paths without."""

    @classmethod
    def of(cls, settings: Settings) -> WebhookConfig:
        """Raises: ConfigError naming the setting that cannot be used."""
        return cls(allow_private=_flag(settings.webhook_allow_private_setting,
                                       "ATTUNE_WEBHOOK_ALLOW_PRIVATE"),
                   allow_http=_flag(settings.webhook_allow_http_setting,
                                    "ATTUNE_WEBHOOK_ALLOW_HTTP"),
                   timeout=float(_whole(settings.webhook_timeout_setting,
                                        "ATTUNE_WEBHOOK_TIMEOUT_SECONDS", 1,
                                        MAX_TIMEOUT_SECONDS)),
                   retry_seconds=_schedule(settings.webhook_retry_setting),
                   public_url=_public_url(settings.public_url))

    @property
    def max_attempts(self) -> int:
        return len(self.retry_seconds) + 1


def _flag(setting: str, name: str) -> bool:
    value = setting.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("", "0", "false", "no"):
        return False
    raise ConfigError(f"{name} must be 1 or 0, got {setting!r}")


def _whole(text: str, name: str, low: int, high: int) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {text!r}")
    return int(text)


def _schedule(setting: str) -> tuple[int, ...]:
    if not setting.strip():
        return DEFAULT_RETRY_SECONDS
    if setting.strip() == "none":
        return ()
    parts = [part.strip() for part in setting.split(",")]
    if len(parts) > MAX_RETRIES or not all(
            part.isascii() and part.isdigit() and int(part) <= MAX_WAIT_SECONDS
            for part in parts):
        raise ConfigError("ATTUNE_WEBHOOK_RETRY_SECONDS must be up to "
                          f"{MAX_RETRIES} comma-separated whole numbers of seconds (each at "
                          f"most {MAX_WAIT_SECONDS}), or none; got {setting!r}")
    return tuple(int(part) for part in parts)


def _public_url(setting: str) -> str:
    url = setting.strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"ATTUNE_PUBLIC_URL must start with https:// or http://, got "
                          f"{setting!r}")
    return url
