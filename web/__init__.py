"""Veille's web app: the search page, the article page, the JSON API, feeds and exports.

from web import create_app
app = create_app({"VEILLE_INDEX": "index"})
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, current_app, request
from flask_compress import Compress
from flask_cors import CORS
from werkzeug.routing import RequestRedirect

from search import ParameterError, SearchRequest

from .feeds import bp as feeds_bp
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


# Compressed when over 1 KB (below that, gzip saves little and costs a round of work).
COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "text/plain",
    "text/csv",
    "application/json",
    "application/x-ndjson",
    "application/atom+xml",
    "image/svg+xml",
]
SETTINGS = ("VEILLE_INDEX", "VEILLE_SEARCH_BUDGET", "VEILLE_PUBLIC_URL", "VEILLE_CORS_ORIGINS")


def _public_url(value: str) -> str:
    """The checked VEILLE_PUBLIC_URL, ending with a slash ("" when not set)."""
    if not value:
        return ""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"VEILLE_PUBLIC_URL: must be the site's address, such as https://veille.example.fr/,"
            f" not {value!r}"
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/", "", ""))


def _origins(value: str | list[str]) -> list[str]:
    """VEILLE_CORS_ORIGINS as a list: comma-separated text, or a list."""
    values = value.split(",") if isinstance(value, str) else value
    return [origin.strip().rstrip("/") for origin in values if origin.strip()]


def _configure(app: Flask, config: Mapping[str, Any] | None) -> None:
    """Defaults, then the environment, then the given mapping; a bad setting stops the app
    at start, naming it: never a 400 blamed on a visitor."""
    app.config.from_mapping(
        VEILLE_INDEX="index",
        VEILLE_SEARCH_BUDGET=2.0,
        VEILLE_PUBLIC_URL="",
        VEILLE_CORS_ORIGINS="",
        COMPRESS_MIN_SIZE=1024,
        COMPRESS_MIMETYPES=COMPRESSED_TYPES,
    )
    for name in SETTINGS:
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if config is not None:
        app.config.from_mapping(config)
    try:
        SearchRequest(budget=app.config["VEILLE_SEARCH_BUDGET"])
    except ParameterError as error:
        raise ValueError(f"VEILLE_SEARCH_BUDGET: {error.message}") from None
    app.config["VEILLE_PUBLIC_URL"] = _public_url(app.config["VEILLE_PUBLIC_URL"])
    app.config["VEILLE_CORS_ORIGINS"] = _origins(app.config["VEILLE_CORS_ORIGINS"])


_QUALITY = re.compile(r"(?:^|;)\s*q\s*=\s*([0-9.]+)", re.IGNORECASE)


def _drop_refused_encodings() -> None:
    """Leave out of Accept-Encoding what the client refuses (``br;q=0``: "not acceptable",
    RFC 9110), which Flask-Compress 1.25 would choose; a ``*`` beside a refusal is spelled
    out as the encodings the app has that the client did not refuse (Flask-Compress would
    fall back on its first, refused or not)."""
    header = request.environ.get("HTTP_ACCEPT_ENCODING")
    if not header:
        return
    kept: list[tuple[str, str]] = []  # (coding, the part as sent)
    refused: set[str] = set()
    for part in header.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        quality = _QUALITY.search(params)
        try:
            if quality is not None and float(quality[1]) == 0:
                refused.add(coding)
                continue
        except ValueError:
            pass
        if coding:
            kept.append((coding, part))
    if not refused:
        return
    named = {coding for coding, _ in kept}
    parts = []
    for coding, part in kept:
        if coding != "*":
            parts.append(part)
            continue
        quality = part.partition(";")[2]
        others = current_app.config["COMPRESS_ALGORITHM"]
        parts += [f"{o};{quality}" if quality else o for o in others if o not in refused | named]
    request.environ["HTTP_ACCEPT_ENCODING"] = ",".join(parts)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Make the web app: defaults, then the environment, then the given mapping (for tests).

    ``VEILLE_INDEX`` is the index folder. The index is opened on the first request that
    needs it, once per process, so the app starts even before the index is built.
    ``VEILLE_SEARCH_BUDGET`` is the time in seconds a search may take before it answers
    with the results found so far, marked partial (default 2). ``VEILLE_PUBLIC_URL`` is
    the site's address for the absolute links of feeds (default: the request's).
    ``VEILLE_CORS_ORIGINS`` (comma-separated) are the web origins whose pages may read
    /api/* (default: none).
    """
    app = Flask(__name__)
    _configure(app, config)

    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # French text stays readable
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keys in the documented order
    app.extensions["veille_index"] = LazyIndex(app.config["VEILLE_INDEX"])
    app.register_blueprint(bp)
    app.register_blueprint(feeds_bp)
    app.before_request(_drop_refused_encodings)
    Compress(app)  # gzip (or br, zstd) when the client accepts it
    if origins := app.config["VEILLE_CORS_ORIGINS"]:
        CORS(
            app,
            resources={r"/api/*": {"origins": origins}},
            methods=["GET", "HEAD", "OPTIONS"],
            expose_headers=["ETag"],  # a page of another origin may revalidate its copy
        )

        @app.after_request
        def _vary_on_origin(response: Response) -> Response:
            # An answer of /api/* depends on the Origin (CORS headers or none), but flask-cors
            # says Vary: Origin only on some (an allowed origin, among several): a cache would
            # serve one origin's answer to another. Added to Vary, never in place of it.
            if request.path.startswith("/api/"):
                response.vary.add("Origin")
            return response

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
