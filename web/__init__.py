"""Veille's web app: the search page, the article page and the JSON API.

from web import create_app
app = create_app({"VEILLE_INDEX": "index"})
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, request
from werkzeug.routing import RequestRedirect

from search import ParameterError, SearchRequest

from .views import LazyIndex, bp

# No inline script or style anywhere: every script and stylesheet is a file in static/.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _relative_url(url: str) -> str:
    """The URL's path (from the root), query and fragment, without its scheme and host."""
    parts = urlsplit(url)
    # One leading slash: "app/x" would be relative to the page, "//x" a URL on host x.
    path = "/" + parts.path.lstrip("/")
    return urlunsplit(("", "", path, parts.query, parts.fragment))


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Make the web app: defaults, then the environment, then the given mapping (for tests).

    ``VEILLE_INDEX`` is the index folder. The index is opened on the first request that
    needs it, once per process, so the app starts even before the index is built.
    ``VEILLE_SEARCH_BUDGET`` is the time in seconds a search may take before it answers
    with the results found so far, marked partial (default 2).
    """
    app = Flask(__name__)
    app.config.from_mapping(VEILLE_INDEX="index", VEILLE_SEARCH_BUDGET=2.0)
    for name in ("VEILLE_INDEX", "VEILLE_SEARCH_BUDGET"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if config is not None:
        app.config.from_mapping(config)
    # A bad setting stops the app at start, naming it: never a 400 blamed on a visitor.
    try:
        SearchRequest(budget=app.config["VEILLE_SEARCH_BUDGET"])
    except ParameterError as error:
        raise ValueError(f"VEILLE_SEARCH_BUDGET: {error.message}") from None

    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # French text stays readable
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keys in the documented order
    app.extensions["veille_index"] = LazyIndex(app.config["VEILLE_INDEX"])
    app.register_blueprint(bp)
    app.jinja_env.globals["max_query_chars"] = SearchRequest.MAX_QUERY_CHARS

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.after_request
    def _relative_routing_redirect(response: Response) -> Response:
        # Werkzeug builds a routing redirect (/articles//x -> /articles/x) on the request's
        # Host header, which anyone can set; the browser resolves a relative one on the URL
        # it asked for.
        if isinstance(request.routing_exception, RequestRedirect) and response.location:
            response.location = _relative_url(response.location)
        return response

    return app


__all__ = ["create_app"]
