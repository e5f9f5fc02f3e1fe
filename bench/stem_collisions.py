"""Names that the French stemmer meets with common words, found in the development corpus.

A word written capitalized nearly always (after a sentence's first word: at least
``--least`` times, and 9 times in 10) whose stem is also that of a word written in lowercase
nearly always (the same bounds) is a name the stemmer may confuse with a common word: Gaza
and gaz, James and jamais. Prints the pairs, the most frequent first; a person reads them
and puts the true confusions in ``search.analysis.STEM_EXCLUSIONS`` (a country and its
people's word are meant to meet).

    python3 bench/stem_collisions.py [--top 60] [--least 30]
"""

from __future__ import annotations

import argparse
import collections
import json
import re

from _common import ORANGESUM

from search.analysis import fold_accents, stem

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿœŒæÆ]+")
_SENTENCE_END = re.compile(r"[.!?:\n]\s*")


def count_spellings() -> tuple[collections.Counter, collections.Counter]:
    """How often each word is written capitalized, and in lowercase, past a sentence's
    first word (which is capitalized whatever it is)."""
    capitalized: collections.Counter = collections.Counter()
    lowercase: collections.Counter = collections.Counter()
    with open(ORANGESUM, encoding="utf-8") as lines:
        for line in lines:
            for sentence in _SENTENCE_END.split(json.loads(line)["text"]):
                for word in _WORD.findall(sentence)[1:]:
                    if len(word) < 3:
                        continue
                    if word[0].isupper() and not word.isupper():
                        capitalized[word.lower()] += 1
                    elif word.islower():
                        lowercase[word] += 1
    return capitalized, lowercase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--least", type=int, default=30)
    args = parser.parse_args()
    capitalized, lowercase = count_spellings()
    by_stem = collections.defaultdict(list)
    for word in set(capitalized) | set(lowercase):
        by_stem[fold_accents(stem(word))].append(word)
    found = []
    for key, words in by_stem.items():
        names = [w for w in words if capitalized[w] >= max(args.least, 9 * lowercase[w])]
        common = [w for w in words if lowercase[w] >= max(args.least, 9 * capitalized[w])]
        if names and common:
            weight = min(sum(capitalized[w] for w in names), sum(lowercase[w] for w in common))
            found.append((weight, key, names, common))
    for weight, key, names, common in sorted(found, reverse=True)[: args.top]:
        listed = ", ".join(f"{w} ({capitalized[w]})" for w in sorted(names))
        against = ", ".join(f"{w} ({lowercase[w]})" for w in sorted(common))
        print(f"{weight:6d}  {key:14s} {listed}  |  {against}")


if __name__ == "__main__":
    main()
