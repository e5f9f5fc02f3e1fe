"""Known-item keyword queries: does the second stage help a few typed words find an article?

Run by hand, from the project folder, on an index of the relevance benchmark's corpus:

    python3 bench/keyword_items.py --reuse-index /tmp/vfull7

bench/relevance.py measures questions and long texts; the second stage also re-ranks
keyword queries of three words or more (every word required), which no dev evaluation
covers. Here each article of lead_dev_sample.txt gives keyword queries made from its
abstract's content words (4+ letters, not stop words, matching at least 2 passages of the index):
its two and three rarest (``rare2``, ``rare3``), two, three and four drawn at random with a
fixed seed (``random2``, ``random3``, ``random4``), and two side by side in the abstract
(``pair2``: a name, a noun and its adjective, as people type them; the pair drawn at
random). The article the words came from is the answer. MRR@10 and R@10 of the page's
default search (collapsing off), with the second stage on and off, same run. A query of
fewer words than ``second_stage_keyword_min_words`` keeps the first stage in both runs:
``--set second_stage_keyword_min_words=2`` measures what the model does to two words.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import sys
from pathlib import Path

from _common import add_set_option, lead_abstracts, log, parse_setting

from search import Index, RankingConfig
from search.analysis import FRENCH_STOP_WORDS, fold_accents

SEED = 20261203
_WORD = re.compile(r"[^\W\d_]{4,}")
_TEXT_WORD = re.compile(r"[^\W\d_]+")


def query_sets(index: Index, texts: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """(answer, query) pairs of each kind; articles with fewer than 4 usable words skipped."""
    rng = random.Random(SEED)
    counted: dict[str, int] = {}
    kinds = ("rare2", "rare3", "random2", "random3", "random4", "pair2")
    sets: dict[str, list[tuple[str, str]]] = {kind: [] for kind in kinds}
    for article_id in sorted(texts):
        words = [
            w
            for w in dict.fromkeys(_WORD.findall(texts[article_id].lower()))
            if fold_accents(w) not in FRENCH_STOP_WORDS
        ]
        passages = {w: matching_passages(index, w, counted) for w in words}
        usable = [w for w in words if passages[w] >= 2]
        if len(usable) < 4:
            continue
        rarest = sorted(usable, key=lambda w: (passages[w], w))[:3]
        sets["rare2"].append((article_id, " ".join(rarest[:2])))
        sets["rare3"].append((article_id, " ".join(rarest)))
        sets["random2"].append((article_id, " ".join(rng.sample(usable, 2))))
        sets["random3"].append((article_id, " ".join(rng.sample(usable, 3))))
        sets["random4"].append((article_id, " ".join(rng.sample(usable, 4))))
        if pairs := side_by_side(texts[article_id], set(usable)):
            sets["pair2"].append((article_id, " ".join(rng.choice(pairs))))
    return sets


def side_by_side(text: str, usable: set[str]) -> list[tuple[str, str]]:
    """Two usable words next to each other in the text (no word between them), as written."""
    written = _TEXT_WORD.findall(text)
    return [
        (a, b)
        for a, b in itertools.pairwise(written)
        if a.lower() in usable and b.lower() in usable and a.lower() != b.lower()
    ]


def matching_passages(index: Index, word: str, counted: dict[str, int]) -> int:
    """How many passages the word (quoted: as typed, no typo reading) matches."""
    if word not in counted:
        counted[word] = index.search(f'"{word}"', group="passage", limit=1).total_passages
    return counted[word]


def scores(index: Index, queries: list[tuple[str, str]]) -> tuple[float, float]:
    """MRR@10 and R@10 of the answers."""
    reciprocal = found = 0.0
    for answer, query in queries:
        ranked = [hit.article_id for hit in index.search(query, collapse=False).hits[:10]]
        if answer in ranked:
            reciprocal += 1 / (ranked.index(answer) + 1)
            found += 1
    return reciprocal / len(queries), found / len(queries)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reuse-index", type=Path, required=True, help="the relevance corpus's index")
    add_set_option(p, "a RankingConfig field's value for the second stage's run (repeatable)")
    args = p.parse_args(argv)
    try:
        settings = dict(parse_setting(s) for s in args.set)
        config = RankingConfig().with_changes(**settings)
    except ValueError as e:
        p.error(str(e))
    on = Index.open(args.reuse_index, config)
    off = Index.open(args.reuse_index, RankingConfig(second_stage=False))
    log("making the queries ...")
    sets = query_sets(on, lead_abstracts())
    print("# known-item keyword queries from lead_dev_sample abstracts, MRR@10 (R@10)")
    if settings:
        print(f"# second stage with {settings}")
    print(f"{'queries':<9} {'n':>5} {'first stage':>16} {'second stage':>16} {'ratio':>7}")
    for name, queries in sets.items():
        log(f"{name} ...")
        first, second = scores(off, queries), scores(on, queries)
        print(
            f"{name:<9} {len(queries):>5} {first[0]:>8.3f} ({first[1]:.3f}) "
            f"{second[0]:>8.3f} ({second[1]:.3f}) {second[0] / max(first[0], 1e-9):>6.3f}x"
        )
    on.close()
    off.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
