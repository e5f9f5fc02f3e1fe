"""The errors Veille reports to a user."""


class VeilleError(Exception):
    """Base of every error Veille reports to a user."""

    def __reduce__(self):
        # Unpickled without calling __init__, whose arguments are not the message: an
        # error raised in a process pool's worker reaches the caller as itself.
        return _unpickled, (type(self), self.args, self.__dict__)


def _unpickled(cls: type, args: tuple, state: dict) -> VeilleError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class IndexNotFoundError(VeilleError):
    """There is no built index at the given path."""


class IndexVersionError(VeilleError):
    """The index was built by an incompatible version of Veille."""


class IndexLockedError(VeilleError):
    """Another command is writing the index."""


class IndexDamagedError(VeilleError):
    """The index's files are damaged (truncated, altered or missing): it must be rebuilt."""


class ParameterError(VeilleError, ValueError):
    """A search parameter that is not acceptable: which one, and why, in English and French."""

    def __init__(self, name: str, message: str, message_fr: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.message_fr = message_fr


class IndexUnavailableError(VeilleError):
    """The index's servers do not answer (a cluster's shard has no replica up)."""


class IndexClosedError(VeilleError):
    """The Index was closed: open it again to search it."""
