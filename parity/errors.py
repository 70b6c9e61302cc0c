"""Errors the CLI turns into a one-line message and exit code 2."""


class ParityError(Exception):
    """A usage or input error: bad flag, unreadable model, no images, unknown stack."""


class NotApplicable(ParityError):
    """A stage that cannot apply to this model (a graph transform with no node to change)."""
