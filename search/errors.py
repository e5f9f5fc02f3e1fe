"""The errors Veille reports to a user."""


class VeilleError(Exception):
    """Base of every error Veille reports to a user."""
