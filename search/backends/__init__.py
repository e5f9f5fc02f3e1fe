"""Storage engines behind one seam (``base``): whoosh files, the embedded default, and a
cluster of Sphinx searchd nodes (a path ending in ``.toml``)."""

from __future__ import annotations

import os

from .base import Backend, Store


def store_for(path: str | os.PathLike) -> Store:
    """The store that reads and writes the index at path: a cluster's ``.toml`` config, or
    an index folder."""
    if str(path).endswith(".toml"):
        from .sphinx import SphinxStore

        return SphinxStore()
    from .whoosh import WhooshStore

    return WhooshStore()


__all__ = ["Backend", "Store", "store_for"]
