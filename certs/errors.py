"""The errors of the certs package; `certs.cli.main` maps them to exit codes in one place."""


class CertsError(Exception):
    """A failure the user can act on; the message is one line and carries no key material."""

    exit_code = 1


class InvalidInput(CertsError):
    """A flag or argument is not acceptable (bad DNS name, days <= 0, unwritable directory)."""

    exit_code = 2
