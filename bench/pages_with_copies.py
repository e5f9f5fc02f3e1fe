"""Do result pages show two copies of one article? The same pages with and without collapsing.

30 keyword queries and the first 170 leads of the development data, the first page of 10
hits of each on an index of the development corpus: a page counts if two of its hits have
the same title and text (case and punctuation set aside). The baseline is the same page with
``collapse=False``, in the same run.

    python3 bench/pages_with_copies.py --index /tmp/veille-full
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import ORANGESUM

from search import Index

KEYWORDS = [
    "Edouard Philippe", "Macron", "coronavirus", "réforme des retraites", "Le Havre",
    "police", "Trump", "incendie", "grève SNCF", "municipales", "masques", "vaccin",
    "attentat", "Castex", "déconfinement", "Lille", "Marseille", "inondations",
    "gilets jaunes", "Lozère rave party", "Goasguen", "StopCovid", "Islande", "météo",
    "Perpignan", "Colbert statue", "Nîmes tribunal", "Airbnb", "Airbus", "Renault",
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", type=Path, required=True)
    args = p.parse_args(argv)
    texts, leads = {}, []
    with ORANGESUM.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            body = (record["title"] + " " + record["text"]).casefold()
            texts[record["id"]] = re.sub(r"\W+", " ", body).strip()
            if record.get("abstract") and len(leads) < 170:
                leads.append(record["abstract"])
    index = Index.open(args.index)
    counts = {}
    for collapse in (False, True):
        shown = 0
        for query in KEYWORDS + leads:
            hits = index.search(query, limit=10, collapse=collapse).hits
            same = collections.Counter(texts.get(h.article_id, h.article_id) for h in hits)
            shown += any(n > 1 for n in same.values())
        counts[collapse] = shown
    total = len(KEYWORDS) + len(leads)
    print(f"pages (first 10 hits) showing two identical articles, of {total}:")
    print(f"  collapse=False (baseline): {counts[False]}")
    print(f"  collapse=True (default):   {counts[True]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
