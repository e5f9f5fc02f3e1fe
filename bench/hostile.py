"""Hostile queries: how long each takes on a real index, and whether one holds the server.

Times every query of the hardening issue (and a few more) through ``Index.search`` with the
default time budget, against a plain keyword query measured in the same run (the baseline:
the ratio says how many plain searches one hostile query costs). Then starts ``veille serve
--workers 2`` on the same index and sends a plain query while two hostile ones run: the
plain one must answer within 3 s.

    python3 bench/hostile.py --index /tmp/veille-full          # an index of the dev corpus
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search import Index

PROJECT = Path(__file__).resolve().parent.parent
COMMON = (
    "de la le et les des en un une du est pour que qui dans sur au par pas plus "
    "avec ce il a ne se son sa ses aux été être elle ont mais comme tout nous vous "
    "leur y ou cette sont deux fait aussi ans après avant entre sans contre depuis sous "
    "tous très encore selon alors ainsi lors dont même autre autres premier première "
    "gouvernement président france paris ministre pays monde politique année années jour "
    "jours mois semaine temps police justice enquête victimes personnes femmes hommes "
    "enfants ville région état loi projet réforme travail emploi économie prix hausse "
    "baisse millions milliards euros entreprise entreprises société sociétés groupe "
    "public publique service services santé hôpital école élèves étudiants université "
    "sécurité défense armée guerre paix accord sommet réunion conseil assemblée sénat "
    "député députés élection élections vote candidat campagne parti partis droite gauche "
    "syndicat syndicats grève manifestation manifestants route accident incendie"
).split()
HOSTILE = {
    "de* co* pr*": "de* co* pr*",
    "de* co* pr* re* en*": "de* co* pr* re* en*",
    "an OR of 12 prefixes": " OR ".join(
        f"{p}*" for p in "de co pr re en ma pa ca po di ex se".split()
    ),
    '"de la" x250, one phrase': '"' + "de la " * 250 + '"',
    'ten "de la" phrases': " ".join(['"de la"'] * 10),
    "an OR of 150 common words": " OR ".join(COMMON[:150]),
    "co*": "co*",
    "pré*": "pré*",
    "con*": "con*",
    "32 x con* joined by OR": " OR ".join(["con*"] * 32),
    "32 3-letter prefixes joined by OR": " OR ".join(
        f"{a}{b}*" for a in "cdmprst" for b in "aeiou"
    ),
    "(pré* AND pro* AND con*) x32 by OR": " OR ".join(["(pré* AND pro* AND con*)"] * 32),
    "80 unknown words joined by AND": " AND ".join(f"zqx{n}wvk" for n in range(80)),
    "333 nested parentheses": "(" * 333 + "gouvernement" + ")" * 333,
    "10,000 characters": "gouvernement réforme " * 500,
    "control characters": "gouv\x00ernement\x1b[2J réforme\x07",
    "a 150-word pasted paragraph": " ".join(COMMON[60:210]),
}
PLAIN = "réforme des retraites"


def timed(index: Index, query: str, runs: int) -> tuple[float, bool, int]:
    """The median wall time in ms of ``runs`` searches, and the last one's mark and total."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        results = index.search(query)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), results.timed_out, results.total


def in_process(index_path: Path, runs: int) -> bool:
    index = Index.open(index_path)
    index.search(PLAIN)  # read the per-generation arrays once, as a warm server has
    plain_ms, _, plain_total = timed(index, PLAIN, max(runs, 5))
    print(f"baseline: {PLAIN!r}: {plain_ms:.1f} ms median, {plain_total:,} articles\n")
    print(f"{'query':<32} {'ms':>8} {'x plain':>8} {'timed out':>10} {'total':>8}")
    worst = 0.0
    for name, query in HOSTILE.items():
        ms, timed_out, total = timed(index, query, runs)
        worst = max(worst, ms)
        print(f"{name:<32} {ms:8.1f} {ms / plain_ms:8.1f} {timed_out!s:>10} {total:8,}")
    print(f"\nslowest hostile query: {worst:.0f} ms (target: at most 2,500 ms)")
    return worst <= 2500


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            status = response.status
            response.read()
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.perf_counter() - started


def under_load(index_path: Path) -> bool:
    """A plain query sent while two hostile ones run on a two-worker server."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "search", "serve", "--index", str(index_path)),
            *("--port", str(port), "--workers", "2"),
        ],
        cwd=PROJECT,
        env=os.environ | {"PYTHONPATH": str(PROJECT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        for _ in range(4):  # each worker reads the index's arrays once
            get(base + "/api/search?" + urllib.parse.urlencode({"q": PLAIN}))
        hostile = [HOSTILE["de* co* pr* re* en*"], HOSTILE["an OR of 150 common words"]]
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            slow = [
                pool.submit(get, base + "/api/search?" + urllib.parse.urlencode({"q": q}))
                for q in hostile
            ]
            time.sleep(0.2)
            status, seconds = get(base + "/api/search?" + urllib.parse.urlencode({"q": PLAIN}))
            answers = [f.result() for f in slow]
        print("\nunder load (veille serve --workers 2):")
        for query, (code, took) in zip(hostile, answers, strict=True):
            print(f"  hostile {query[:40]!r}: {code} in {took:.2f} s")
        print(f"  plain {PLAIN!r} sent during them: {status} in {seconds:.2f} s (target: 3 s)")
        return status == 200 and seconds <= 3 and all(code == 200 for code, _ in answers)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="an index of the dev corpus")
    parser.add_argument("--runs", type=int, default=3, help="searches per query (median)")
    parser.add_argument("--no-server", action="store_true", help="skip the load check")
    args = parser.parse_args(argv)
    print(f"# Veille hostile queries, index {args.index}")
    ok = in_process(args.index, args.runs)
    if not args.no_server:
        ok = under_load(args.index) and ok
    print("\nall targets met" if ok else "\nTARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
