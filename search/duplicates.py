"""Near-duplicate articles: a wire story republished with small edits is one cluster.

Each article gets a MinHash signature of its words taken three by three (datasketch), and
the articles whose signatures agree on at least THRESHOLD of their values (an estimate of
the Jaccard similarity of their three-word sequences) share a cluster, named after its first
article. A build finds clusters with datasketch's LSH; an update compares each new article
with every signature already indexed, which numpy does at once.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from .analysis import fold_accents
from .corpus import Article

if TYPE_CHECKING:
    from datasketch import LeanMinHash

# datasketch is imported where a signature or a cluster is made (builds and updates): it
# loads scipy, about half a second that a search, the CLI's included, does not need.

NUM_PERM = 64
SHINGLE_WORDS = 3
# The share of agreeing signature values from which two articles are copies; chosen on
# pairs of the development corpus read by hand (bench/duplicates.py, bench/README.md).
THRESHOLD = 0.7
# The similarity LSH looks for candidates from, each checked against THRESHOLD: datasketch
# tunes its bands to its threshold, and at 0.7 (8 bands of 8 values) it would miss 62% of
# the pairs that agree on 70% and 23% of those on 80%; at 0.5 (14 bands of 4), 2% and none.
CANDIDATE_THRESHOLD = 0.5

_WORD = re.compile(r"\w+")
_BATCH = 4096
_SCHEME = "affine32"


@cache
def _permutations() -> np.ndarray:
    # One set for every signature: making them is most of MinHash()'s cost.
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=1, scheme=_SCHEME).permutations


def signature(article: Article) -> np.ndarray:
    """The article's MinHash signature: NUM_PERM 32-bit values."""
    words = _WORD.findall(fold_accents((article.title + " " + article.body).casefold()))
    n = SHINGLE_WORDS
    shingles = [" ".join(words[i : i + n]).encode() for i in range(max(1, len(words) - n + 1))]
    from datasketch import MinHash

    minhash = MinHash(
        num_perm=NUM_PERM,
        seed=1,
        hashfunc=zlib.crc32,
        permutations=_permutations(),
        scheme=_SCHEME,
    )
    # A batch hashes its shingles times NUM_PERM at once: a few thousand at a time keep a
    # very long article's memory bounded (all of a 10 MB article's took over 1 GB).
    distinct = list(dict.fromkeys(shingles))
    for start in range(0, len(distinct), _BATCH):
        minhash.update_batch(distinct[start : start + _BATCH])
    return minhash.hashvalues.copy()


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(a == b)) / len(a)


class ClusterFinder:
    """Assign each article, in turn, the cluster of the first earlier copy, or a new one."""

    def __init__(
        self,
        known: Iterable[tuple[str, str, np.ndarray]] = (),
        threshold: float = THRESHOLD,
    ) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        ids, clusters, signatures = [], [], []
        for article_id, cluster, values in known:
            ids.append(article_id)
            clusters.append(cluster)
            signatures.append(values)
        self._known_ids = ids
        self._known_clusters = clusters
        self._known = np.array(signatures, dtype=np.uint32).reshape(len(ids), NUM_PERM)
        self._lsh = MinHashLSH(threshold=min(threshold, CANDIDATE_THRESHOLD), num_perm=NUM_PERM)
        self._new: dict[str, tuple[int, str, LeanMinHash]] = {}  # id -> (order, cluster, ...)

    def cluster(self, article_id: str, values: np.ndarray) -> str:
        """The cluster of this article, remembered for the articles after it."""
        best = None
        if len(self._known):
            agree = (self._known == values).mean(axis=1)
            agree[np.array(self._known_ids, dtype=object) == article_id] = 0  # its old self
            i = int(np.argmax(agree))
            if agree[i] >= self.threshold:
                best = self._known_clusters[i]
        from datasketch import LeanMinHash

        minhash = LeanMinHash(seed=1, hashvalues=values, scheme=_SCHEME)
        if best is None:
            for candidate in sorted(self._lsh.query(minhash), key=lambda c: self._new[c][0]):
                _, cluster, other = self._new[candidate]
                if candidate != article_id and other.jaccard(minhash) >= self.threshold:
                    best = cluster
                    break
        # A new cluster is named after its first article and that article's text: a first
        # article later rewritten (the same id, another story) starts a cluster of its own.
        cluster = best or f"{article_id}~{int(values[0]):08x}"
        if article_id not in self._new:
            self._lsh.insert(article_id, minhash)
        self._new[article_id] = (len(self._new), cluster, minhash)
        return cluster
