"""Storage engines behind one seam (``base``): whoosh files, the embedded default."""

from __future__ import annotations

import os

from .base import Backend, Store


def store_for(path: str | os.PathLike) -> Store:
    """The store that reads and writes the index at path."""
    from .whoosh import WhooshStore

    return WhooshStore()


__all__ = ["Backend", "Store", "store_for"]
