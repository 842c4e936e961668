"""Errors a caller can act on, with the exact wording of the user-facing contract."""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """Base for errors a caller can act on."""

    code = "BAD_REQUEST"


class PackDirectoryNotFoundError(RegistryError):
    """Raised when the pack path does not exist or is not a directory."""

    def __init__(self, path: str) -> None:
        super().__init__(f"Pack directory does not exist: {path}")


class ManifestNotFoundError(RegistryError):
    """Raised when the pack directory has no pack.yaml."""

    def __init__(self, path: str) -> None:
        super().__init__(f"pack.yaml not found in directory: {path}")


class ManifestError(RegistryError):
    """Raised when pack.yaml (or a component file) cannot be read or breaks its schema."""

    def __init__(self, problem: str, field: str | None = None, source: str = "pack.yaml") -> None:
        self.field = field
        self.problem = problem
        self.source = source
        where = f"{field}: " if field else ""
        super().__init__(f"Invalid {source}: {where}{problem}")


class NoTestingConfigError(RegistryError):
    """Raised when tests are requested but pack.yaml has no testing section."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"No testing configuration found in pack.yaml for pack '{ref}'")


class TestingDisabledError(RegistryError):
    """Raised when tests are requested but the testing section is disabled."""

    __test__ = False  # not a pytest test class

    def __init__(self, ref: str) -> None:
        super().__init__(f"Testing is disabled for pack '{ref}'")


class PackAlreadyExistsError(RegistryError):
    """Raised when the ref is already active and force was not given."""

    code = "CONFLICT"

    def __init__(self, ref: str) -> None:
        super().__init__(f"Pack '{ref}' already exists. Use force=true to reinstall.")


class RegistrationInProgressError(RegistryError):
    """Raised when another registration of the same ref holds the lease."""

    code = "CONFLICT"

    def __init__(self, ref: str, registration_id: object | None = None) -> None:
        holder = f" ({registration_id})" if registration_id else ""
        super().__init__(
            f"Pack '{ref}' has a registration in progress{holder}; try again when it finishes"
        )


class TestsFailedError(RegistryError):
    """Raised when a registration is rejected because its tests did not pass."""

    __test__ = False

    def __init__(self, registration_id: object, result: dict[str, Any] | None) -> None:
        self.registration_id = registration_id
        self.result = result
        super().__init__(
            "Pack registration failed: tests did not pass. Use force=true to register anyway."
        )


class DigestMismatchError(RegistryError):
    """Raised when a pack's content is not the content the caller pinned (nothing is saved)."""

    def __init__(self, ref: str, actual: str, expected: str) -> None:
        super().__init__(f"Pack '{ref}' has content digest sha256:{actual}, not the expected "
                         f"sha256:{expected}; nothing was installed")


class PackNotFoundError(RegistryError):
    """Raised when no active pack has the given ref."""

    code = "NOT_FOUND"

    def __init__(self, ref: str) -> None:
        super().__init__(f"Pack '{ref}' not found")


class NoTestResultsError(RegistryError):
    """Raised when a known pack has no test run yet (its registrations skipped the tests)."""

    code = "NOT_FOUND"

    def __init__(self, ref: str) -> None:
        super().__init__(f"No test results found for pack '{ref}'")


class NothingToRollBackError(RegistryError):
    """Raised when the active registration of a pack replaced no earlier one."""

    code = "CONFLICT"

    def __init__(self, ref: str) -> None:
        super().__init__(
            f"Pack '{ref}' has no earlier registration to roll back to; "
            "use unregister to remove it"
        )


class RegistrationNotFoundError(RegistryError):
    """Raised when no registration has the given id."""

    code = "NOT_FOUND"

    def __init__(self, registration_id: object) -> None:
        super().__init__(f"Registration '{registration_id}' not found")


class TokenNotFoundError(RegistryError):
    """Raised when no API token has the given name or id."""

    code = "NOT_FOUND"

    def __init__(self, name_or_id: str) -> None:
        super().__init__(f"Token '{name_or_id}' not found")


class ConcurrentChangeError(RegistryError):
    """Raised when another command changed the same pack at the same moment (nothing saved)."""

    code = "CONFLICT"

    def __init__(self, ref: str) -> None:
        super().__init__(f"Pack '{ref}' was changed by another command at the same time; "
                         "nothing was done, try again")
