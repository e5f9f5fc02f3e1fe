"""Serving the web app with gunicorn, a production WSGI server, from Python.

`veille serve` calls serve(). Each worker process makes its own app and, on its first
request, opens its own Index, which then follows rebuilds by itself: a new index built by
`veille build` is served within a second or so, with no restart.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from . import create_app

# A search answers in milliseconds; a worker silent for this long is stuck, and restarted.
TIMEOUT_SECONDS = 30
GRACEFUL_TIMEOUT_SECONDS = 10


class VeilleServer(BaseApplication):
    """Gunicorn running the Veille app on one index; no config file, no command line."""

    def __init__(self, index_path: str | os.PathLike[str], options: dict[str, Any]) -> None:
        self.index_path = os.fspath(index_path)
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Called in each worker (no preload), so every process has its own app and index.
        return create_app({"VEILLE_INDEX": self.index_path})


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """Gunicorn's settings for serving on host:port with this many worker processes."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "bind": [bind],
        "workers": workers,
        "worker_class": "sync",
        "timeout": TIMEOUT_SECONDS,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "accesslog": None,  # no access log; errors and start-up go to stderr
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "veille",
        # A query may have 1,000 characters; of accented letters, percent-encoded in the
        # URL, up to 6,000 bytes, past gunicorn's 4,094-byte default for a request line
        # (answered with its own HTML 414, even to the JSON API). 8,190 is its maximum.
        "limit_request_line": 8190,
        "preload_app": False,
        # gunicorn 27's control socket is one path per account ($HOME/.gunicorn/gunicorn.ctl):
        # a second server would take it over and the first to stop would delete it. Veille
        # never uses it; stop a server with SIGINT or SIGTERM.
        "control_socket_disable": True,
    }


def serve(
    index_path: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
) -> None:
    """Serve the app on host:port until stopped (SIGINT or SIGTERM).

    ``workers`` is the number of worker processes (default: one per core).
    """
    count = workers if workers is not None else (os.cpu_count() or 1)
    VeilleServer(index_path, gunicorn_options(host, port, count)).run()
