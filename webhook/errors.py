"""The webhook's error hierarchy. `webhook.cli.main` maps it to exit codes and the aiohttp view to
HTTP statuses; nowhere else decides either."""


class WebhookError(Exception):
    """A failure with a one-line message that is safe to show (no object values, no secrets)."""

    exit_code = 1


class UsageError(WebhookError):
    """Bad flags, a bad input file or a bad profiles file: exit code 2."""

    exit_code = 2


class ConfigError(UsageError):
    """The profiles file does not parse or validate; the message names the field."""


class BadReview(WebhookError):
    """An AdmissionReview the server cannot answer: HTTP ``status`` with a one-line ``reason``."""

    def __init__(self, message: str, *, status: int = 400, reason: str = "invalid") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
