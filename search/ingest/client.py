"""A polite HTTP client over the standard library's urllib: how `veille fetch` treats a site.

One Client per run. It names Veille (and its version) in its User-Agent, honours each
host's robots.txt (read once per run), waits between two requests to one host, gives up on
a silent or endless answer, retries what may pass (5xx, 429, network errors) with a growing
backoff, follows a bounded number of redirects itself (each hop checked against robots.txt,
a loop named as such) and never reads past a size cap, gzip or not.

urllib rather than requests: these few needs are a page of code over the standard library,
and a third-party client would be one more dependency to keep for them.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import re
import socket
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from urllib.parse import quote, urldefrag, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from search.errors import VeilleError

__all__ = ["Client", "FetchError", "Politeness", "Response", "user_agent"]

# The name robots.txt rules address Veille by (`User-agent: Veille`).
ROBOTS_NAME = "Veille"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# A robots.txt Crawl-delay is honoured up to this many seconds; past it, the site would
# stall a whole run for one page.
_MAX_CRAWL_DELAY = 60.0
_MAX_RETRY_AFTER = 30.0
_CHUNK = 64 * 1024


def user_agent(contact: str | None = None) -> str:
    """Veille's User-Agent: its name and version, and how to reach whoever runs it."""
    from search import __version__  # here: search/__init__ imports this package

    about = "French news monitoring" + (f"; contact: {contact}" if contact else "")
    return f"{ROBOTS_NAME}/{__version__} ({about})"


@dataclass(frozen=True)
class Politeness:
    """How hard a run may press on a site, and how long it waits for one."""

    delay: float = 1.0  # seconds between two requests to one host
    timeout: float = 10.0  # seconds to connect, and for each read
    max_bytes: int = 5 * 1024 * 1024  # a larger answer is not read past this
    tries: int = 3  # attempts at a request that fails with a 5xx or a network error
    backoff: float = 0.5  # seconds before the second attempt, doubled for each next one
    max_redirects: int = 5
    contact: str | None = None  # said in the User-Agent (an e-mail address, say)


@dataclass(frozen=True)
class Response:
    """An answer read whole: the URL it came from (after redirects), its status and body."""

    url: str
    status: int  # 200 (or another 2xx), or 304 for a conditional request
    headers: Message
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class FetchError(VeilleError):
    """A feed or a page that could not be fetched: its URL and why, in a few words."""

    def __init__(
        self, url: str, reason: str, status: int | None = None, transient: bool = False
    ) -> None:
        super().__init__(url, reason, status)
        self.url, self.reason, self.status = url, reason, status
        # The site failed, not the page (a 5xx, the network, robots.txt out of reach): the
        # page is not held against a later run.
        self.transient = transient

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"


class _Transient(Exception):
    """A failure worth another attempt (a 5xx, a 429, a network error)."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float = 0.0):
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # Client.get follows redirects itself, checking each hop


def _megabytes(size: int) -> str:
    return f"{size / 2**20:g} MB"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _retry_after(headers: Message) -> float:
    value = (headers.get("Retry-After") or "").strip()
    return min(float(value), _MAX_RETRY_AFTER) if value.isdigit() else 0.0


def _network_reason(error: BaseException) -> str:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return f"network error: {reason.strerror}"
    return f"network error: {reason or type(reason).__name__}"


class Client:
    """Fetches URLs politely; see the module's docstring. Not thread-safe: one per run."""

    def __init__(
        self, politeness: Politeness = Politeness(), *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.politeness = politeness
        self.user_agent = user_agent(politeness.contact)
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._sleep = sleep
        self._last: dict[str, float] = {}  # origin -> when its last request ended
        self._robots: dict[str, RobotFileParser] = {}
        self._robots_unread: set[str] = set()  # sites whose robots.txt could not be read
        self._down: dict[str, str] = {}  # sites unavailable or out of reach this run: why

    def get(
        self, url: str, headers: Mapping[str, str] | None = None, *, robots: bool = True
    ) -> Response:
        """Fetch url (following redirects); FetchError says why it could not be had.

        With ``robots``, a URL that its site's robots.txt disallows is not requested.
        """
        url = ascii_url(urldefrag(url).url)
        chain = [url]
        for _hop in range(self.politeness.max_redirects + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchError(chain[0], f"not an http(s) URL: {url}")
            if robots and not self.allowed(url):
                if _origin(url) in self._robots_unread:
                    reason = "robots.txt could not be read: not fetched until it can be"
                    raise FetchError(url, reason, transient=True)
                raise FetchError(url, "disallowed by the site's robots.txt")
            status, head, body = self._with_retries(url, dict(headers or {}))
            if status not in _REDIRECTS:
                return Response(url, status, head, body)
            location = head.get("Location")
            if not location:
                raise FetchError(url, f"HTTP {status} redirect without a Location", status)
            url = ascii_url(urldefrag(urljoin(url, location.strip())).url)
            if url in chain:
                raise FetchError(chain[0], "redirect loop: " + " -> ".join([*chain, url]))
            chain.append(url)
        raise FetchError(chain[0], f"more than {self.politeness.max_redirects} redirects")

    def allowed(self, url: str) -> bool:
        """Whether the site's robots.txt lets Veille fetch url (read once per site)."""
        origin = _origin(url)
        if origin not in self._robots:
            self._robots[origin] = self._read_robots(origin)
        return self._robots[origin].can_fetch(ROBOTS_NAME, url)

    def _read_robots(self, origin: str) -> RobotFileParser:
        rules = RobotFileParser(origin + "/robots.txt")
        try:
            response = self.get(origin + "/robots.txt", robots=False)
        except FetchError as error:
            # RFC 9309: a missing robots.txt (4xx) allows everything; one that cannot be
            # reached (5xx, network) allows nothing, until it can be read.
            if error.status is not None and 400 <= error.status < 500:
                rules.allow_all = True
            else:
                rules.disallow_all = True
                if error.transient or (error.status or 0) >= 500:  # out of reach, for now
                    self._robots_unread.add(origin)
            return rules
        lines = response.body[:512_000].decode("utf-8", "replace").splitlines()
        rules.parse([_CRAWL_DELAY.sub(_whole_seconds, line) for line in lines])
        return rules

    def _delay(self, origin: str) -> float:
        rules = self._robots.get(origin)
        asked = rules.crawl_delay(ROBOTS_NAME) if rules is not None else None
        return max(self.politeness.delay, min(float(asked or 0), _MAX_CRAWL_DELAY))

    def _wait_turn(self, origin: str) -> None:
        last = self._last.get(origin)
        if last is not None:
            pause = last + self._delay(origin) - time.monotonic()
            if pause > 0:
                self._sleep(pause)

    def _with_retries(self, url: str, headers: dict[str, str]) -> tuple[int, Message, bytes]:
        origin = _origin(url)
        if origin in self._down:  # one page's tries are enough to say so for this run
            why = f"not asked: {self._down[origin]}, so the site's other pages wait this run"
            raise FetchError(url, why, None, True)
        tries = max(self.politeness.tries, 1)
        for attempt in range(1, tries + 1):
            self._wait_turn(origin)
            try:
                return self._once(url, headers)
            except _Transient as problem:
                failure = problem
            finally:
                self._last[origin] = time.monotonic()
            if attempt < tries:
                backoff = self.politeness.backoff * 2 ** (attempt - 1)
                self._sleep(max(backoff, failure.retry_after))
        reason = f"{failure.reason} ({tries} tries)"
        # Unavailable, or out of reach: the whole site, not this page (a slow page, a 500).
        if failure.status in (429, 503) or (failure.status is None and "network" in reason):
            self._down[origin] = f"{url} failed: {reason}"
        raise FetchError(url, reason, failure.status, transient=True)

    def _once(self, url: str, headers: dict[str, str]) -> tuple[int, Message, bytes]:
        request = urllib.request.Request(
            url, headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip", **headers}
        )
        try:
            try:
                response = self._opener.open(request, timeout=self.politeness.timeout)
            except urllib.error.HTTPError as error:
                response = error  # a status other than 2xx: an answer all the same
            with response:
                return self._answer(url, response)
        except (http.client.InvalidURL, UnicodeError) as error:  # no retry mends it
            raise FetchError(url, f"not a valid URL ({error})") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise _Transient(_network_reason(error)) from None

    def _answer(self, url: str, response) -> tuple[int, Message, bytes]:
        status, head = response.status, response.headers
        what = f"HTTP {status} {response.reason}".rstrip()
        if status >= 500 or status == 429:
            raise _Transient(what, status, _retry_after(head))
        if status in _REDIRECTS or status == 304:
            return status, head, b""
        if status >= 300:
            raise FetchError(url, what, status)
        return status, head, _read_body(response, url, self.politeness)


# Python's robots.txt parser reads whole seconds only: « Crawl-delay: 1.5 » is read as 2.
_CRAWL_DELAY = re.compile(r"^(\s*crawl-delay\s*:\s*)(\d*\.\d+)", re.IGNORECASE)


def _whole_seconds(match: re.Match) -> str:
    return f"{match[1]}{math.ceil(float(match[2]))}"


def ascii_url(url: str) -> str:
    """The URL as HTTP sends it: a French site's « /actualité/été » percent-encoded (as
    UTF-8), its spaces too, an accented host name in IDNA; what is encoded stays so."""
    parts = urlsplit(url)
    host = parts.netloc
    if not host.isascii():
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    path = quote(parts.path, safe="/%:@!$&'()*+,;=~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=~?")
    return urlunsplit((parts.scheme, host, path, query, parts.fragment))


def _read_body(response, url: str, politeness: Politeness) -> bytes:
    """Read an answer's body, gunzipped, never more than max_bytes of it.

    A whole body must arrive within six times the timeout: a server that trickles a byte
    at a time would otherwise hold the run for as long as it likes.
    """
    cap = politeness.max_bytes
    too_large = FetchError(url, f"larger than {_megabytes(cap)}: not read past it")
    encoding = (response.headers.get("Content-Encoding") or "").strip().lower()
    gunzip = zlib.decompressobj(wbits=47) if encoding in ("gzip", "x-gzip") else None
    length = (response.headers.get("Content-Length") or "").strip()
    if gunzip is None and length.isdigit() and int(length) > cap:
        raise too_large
    deadline = time.monotonic() + 6 * politeness.timeout
    parts: list[bytes] = []
    size = 0
    # read1: what has arrived, so that a trickle meets the deadline between two reads.
    read = getattr(response, "read1", response.read)
    while chunk := read(_CHUNK):
        if gunzip is not None:
            try:
                chunk = gunzip.decompress(chunk, cap + 1 - size)
            except zlib.error:
                raise FetchError(url, "its gzip content is damaged") from None
            if gunzip.unconsumed_tail:
                raise too_large
        size += len(chunk)
        if size > cap:
            raise too_large
        parts.append(chunk)
        if time.monotonic() > deadline:
            raise FetchError(url, f"too slow: not complete after {6 * politeness.timeout:g} s")
    return b"".join(parts)
