"""HTTP load benchmark: `veille serve` with one worker, then with the default workers.

Run by hand (never by the tests), from the project folder:

    python3 bench/http_load.py --index /tmp/veille-ix-full
    python3 bench/http_load.py --index /tmp/ix2000 --articles 2000 --duration 10

For each configuration (``--workers 1``, then the default, which is one worker per core), it
starts ``python3 -m search serve --index PATH --host 127.0.0.1 --port P`` on a free loopback
port, waits for /healthz, warms the workers up (--warmup seconds, not counted), then runs a
bounded load: --clients client threads, each sending one request at a time, for --duration
seconds, to /api/search with a fixed, deterministic mix of queries (bench/query.py's keyword
queries with group=article and the PIAF dev questions with group=passage, alternately; 10 hits
a page, the web page's default). Each request is a new connection (gunicorn's sync workers
close the connection after each response). It reports requests/s, latency p50/p95/p99 (ms,
wall-clock at the client), failures (an error or a status other than 200), and the ratio of
the default's requests/s to the single worker's. It then stops the server (SIGTERM, and a kill
of its own process group if it has not stopped within 20 s).

The machine has 2 cores, shared by the server's workers and the load generator: the load
generator takes some of the CPU the second worker would get.

Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from _common import PROJECT, code_version, even_sample, log, percentile, print_header
from query import keyword_queries, questions
from relevance import DEFAULT_CACHE, prepare_corpus

HOST = "127.0.0.1"
LIMIT = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get(port: int, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def request_paths(keywords: list[str], qs: list[str]) -> list[str]:
    """Keyword queries and questions, alternately (deterministic)."""
    paths = []
    for i in range(max(len(keywords), len(qs))):
        for text, group in ((keywords, "article"), (qs, "passage")):
            if i < len(text):
                query = urllib.parse.urlencode({"q": text[i], "group": group, "limit": LIMIT})
                paths.append(f"/api/search?{query}")
    return paths


class Server:
    """`python3 -m search serve` in its own process group, on a free loopback port."""

    def __init__(self, index: Path, workers: int | None, log_path: Path) -> None:
        self.port = free_port()
        self.cmd = [
            sys.executable,
            "-m",
            "search",
            "serve",
            "--index",
            str(index),
            "--host",
            HOST,
            "--port",
            str(self.port),
        ]
        if workers is not None:
            self.cmd += ["--workers", str(workers)]
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=PROJECT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 180.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}): {self.tail()}")
            try:
                status, body = get(self.port, "/healthz", timeout=5)
                if status == 200:
                    return json.loads(body)
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"no /healthz within {timeout:.0f} s: {self.tail()}")

    def tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
                how = "stopped by SIGTERM"
            except subprocess.TimeoutExpired:
                os_killpg(self.proc.pid)
                self.proc.wait(10)
                how = "killed after 20 s"
        else:
            how = f"had exited ({self.proc.returncode})"
        self._log.close()
        return how


def os_killpg(pgid: int) -> None:
    """Kill the server's own process group (started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by root and its live descendants."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[bytes]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        stats[int(name)] = fields
        children.setdefault(int(fields[1]), []).append(int(name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        if pid in stats:
            total += int(stats[pid][11]) + int(stats[pid][12])  # utime, stime
        stack.extend(children.get(pid, ()))
    return total / _TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class Load:
    seconds: float = 0.0
    ms: list[float] = field(default_factory=list)
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    server_cpu: float = 0.0  # CPU seconds of the server's processes during the load
    client_cpu: float = 0.0  # CPU seconds of this load generator during the load
    machine_busy: float = 0.0  # fraction of all the machine's CPU time that was busy

    def cores(self, cpu: float) -> float:
        return cpu / self.seconds if self.seconds else float("nan")

    @property
    def rps(self) -> float:
        return len(self.ms) / self.seconds if self.seconds else float("nan")


def run_load(port: int, paths: list[str], clients: int, seconds: float, server_pid: int) -> Load:
    """`clients` threads, one request at a time each, for `seconds`."""
    load = Load()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    n = len(paths)

    def client(k: int) -> None:
        i = k * n // clients  # each client starts at its own place in the list
        ms: list[float] = []
        failures = 0
        errors: list[str] = []
        while time.monotonic() < stop_at:
            path = paths[i % n]
            i += 1
            started = time.perf_counter()
            try:
                status, _ = get(port, path)
                ok = status == 200
                if not ok:
                    errors.append(f"HTTP {status}")
            except OSError as e:
                ok = False
                errors.append(repr(e))
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                ms.append(elapsed)
            else:
                failures += 1
        with lock:
            load.ms.extend(ms)
            load.failures += failures
            load.errors.extend(errors[:5])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    cpu0, own0, (busy0, all0) = tree_cpu(server_pid), time.process_time(), machine_busy()
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.seconds = time.monotonic() - started
    busy1, all1 = machine_busy()
    load.server_cpu = tree_cpu(server_pid) - cpu0
    load.client_cpu = time.process_time() - own0
    load.machine_busy = (busy1 - busy0) / max(1, all1 - all0)
    return load


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--index", type=Path, required=True, help="the index to serve")
    p.add_argument(
        "--articles",
        type=int,
        help="the corpus the keyword queries are made from: the first N OrangeSum "
        "articles + PIAF (default: all; as for bench/query.py)",
    )
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load (20)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up (5)")
    p.add_argument("--clients", type=int, default=4, help="concurrent client threads (4)")
    p.add_argument("--questions", type=int, default=200, help="PIAF questions in the mix (200)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--json", type=Path, help="write the figures there too")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    version = code_version()  # what is measured: search/ as the run starts
    started = time.monotonic()
    command = "python3 " + shlex.join([sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    corpus = prepare_corpus(args.cache_dir, args.articles, False)
    log("making the query lists ...")
    qs = questions()
    qs = [qs[i] for i in even_sample(len(qs), args.questions)]
    paths = request_paths(keyword_queries(corpus.path), qs)

    rows: list[tuple[str, Load, str]] = []
    health: dict = {}
    for workers in (1, None):
        label = "--workers 1" if workers == 1 else f"default ({os.cpu_count()})"
        log_path = Path(tempfile.mkstemp(prefix="veille-bench-serve-", suffix=".log")[1])
        server = Server(args.index, workers, log_path)
        try:
            log(f"{label}: serving on {HOST}:{server.port}, waiting for /healthz ...")
            health = server.wait_healthy()
            log(f"{label}: warming up for {args.warmup:.0f} s ...")
            run_load(server.port, paths[::-1], args.clients, args.warmup, server.proc.pid)
            log(f"{label}: {args.clients} clients for {args.duration:.0f} s ...")
            load = run_load(server.port, paths, args.clients, args.duration, server.proc.pid)
            log(
                f"{label}: {load.rps:.1f} requests/s, p50 {percentile(load.ms, 50):.0f} ms, "
                f"{load.failures} failures"
            )
        finally:
            how = server.stop()
            log(f"{label}: server {how}")
        if load.errors:
            log(f"{label}: first errors: {load.errors[:5]}")
        rows.append((label, load, how))
        log_path.unlink(missing_ok=True)

    print_header("HTTP load", command, version, "shared by the server and the load generator")
    print(
        f"index: {args.index} ({health.get('articles')} articles, "
        f"{health.get('passages')} passages)"
    )
    print(
        f"server: python3 -m search serve --index {args.index} --host {HOST} --port <free> "
        "[--workers 1]"
    )
    print(
        f"load: {args.clients} client threads, one request at a time each, "
        f"{args.duration:.0f} s after a {args.warmup:.0f} s warm-up; /api/search with "
        f"{len(paths)} requests in turn (keyword queries group=article and PIAF questions "
        f"group=passage, alternately; limit={LIMIT}); a new connection per request"
    )
    print()
    print(
        f"{'workers':<12} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'failures':>8} {'server cores':>12} {'client cores':>12} "
        f"{'machine busy':>12}  server stop"
    )
    for label, load, how in rows:
        print(
            f"{label:<12} {len(load.ms):>8} {load.rps:>7.1f} "
            f"{percentile(load.ms, 50):>7.0f} {percentile(load.ms, 95):>7.0f} "
            f"{percentile(load.ms, 99):>7.0f} {load.failures:>8} "
            f"{load.cores(load.server_cpu):>12.2f} {load.cores(load.client_cpu):>12.2f} "
            f"{load.machine_busy:>11.0%}  {how}"
        )
    single, default = rows[0][1], rows[1][1]
    ratio = default.rps / single.rps if single.rps else float("nan")
    p99 = percentile(default.ms, 99)
    ok = ratio >= 1.5 and p99 < 250 and default.failures == 0
    print(
        f"\ndefault / single: {ratio:.2f}x requests/s (target >= 1.5x, p99 < 250 ms, "
        f"no failures: {'met' if ok else 'MISSED'})"
    )
    print(
        "server/client cores: CPU seconds used during the load by the server's processes / "
        "by this load generator, per second of load; machine busy: the share of all "
        f"{os.cpu_count()} cores' time that was busy (other processes included). A ratio "
        "near 1x with the machine near 100% busy means no core was free for a second worker."
    )
    print(f"total run time {time.monotonic() - started:.0f} s")
    if args.json is not None:
        out = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": command,
            "rows": [
                {
                    "workers": label,
                    "requests": len(load.ms),
                    "rps": load.rps,
                    "p50": percentile(load.ms, 50),
                    "p95": percentile(load.ms, 95),
                    "p99": percentile(load.ms, 99),
                    "failures": load.failures,
                    "server_cores": load.cores(load.server_cpu),
                    "client_cores": load.cores(load.client_cpu),
                    "machine_busy": load.machine_busy,
                }
                for label, load, _ in rows
            ],
            "ratio": ratio,
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
