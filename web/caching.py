"""HTTP caching for the answers other tools fetch again and again: ETag, Cache-Control, 304.

A search's ETag is computed before the search, from what decides its answer: the kind of
answer, Veille's version, the state of the index and the search's parameters (never the
time it took). A client that sends it back in If-None-Match gets a 304 without the
search being run. The ETag is weak: two answers with one ETag are the same results, not
the same bytes (the JSON's `took_ms` differs).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, request

from search import IndexInfo, SearchRequest, __version__

CACHE_CONTROL = "public, max-age=60"


def index_state(info: IndexInfo) -> list[Any]:
    """What identifies the index's content: its generation (a rebuild) and its revision
    (an update in place: `veille add`, `veille fetch`)."""
    return [info.generation, info.built_at.isoformat(), info.revision]


def search_etag(info: IndexInfo, kind: str, params: SearchRequest, *extra: str) -> str:
    """The ETag of an answer of this kind to this search (``extra``: what else shapes it)."""
    key = [kind, __version__, index_state(info), params.url_params(), *extra]
    text = json.dumps(key, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def not_modified(etag: str) -> Response | None:
    """A 304 answer, without a body, when the client already has this ETag; else None."""
    if not request.if_none_match.contains_weak(etag):
        return None
    response = Response(status=304)
    response.set_etag(etag, weak=True)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def cacheable(response: Response, etag: str, complete: bool = True) -> Response:
    """The answer with its ETag and Cache-Control; a partial one (timed out) is not kept."""
    if complete:
        response.set_etag(etag, weak=True)
        response.headers["Cache-Control"] = CACHE_CONTROL
    else:
        response.headers["Cache-Control"] = "no-store"
    return response
