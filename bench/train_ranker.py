"""Train the second-stage ranker (search/models/ranker.txt) from the development data.

Run by hand, from the project folder, on an index of the relevance benchmark's corpus:

    python3 bench/train_ranker.py --reuse-index /tmp/vfull7

What it does, reproducibly (fixed seeds, one thread):

1. Training queries, from ../shared/data only: every dev PIAF question (its answer: one
   paragraph of one PIAF article), and the abstracts of OrangeSum articles that have one,
   except the ids of lead_dev_sample.txt (the evaluation list of bench/relevance.py), an
   even sample of --leads of them (the answer: that article).
2. For each query, the search the page makes by default (articles, relevance, collapsing off)
   with the second stage's features captured (``Index.shortlist(unscored=True)``): the first
   stage's best WINDOW articles, their best passages, FEATURES each. A passage is relevant
   when it is the answer (PIAF: the right paragraph; a lead: any passage of its article).
3. K-fold cross-validation (--folds), folds grouped by PIAF article and by lead article: a
   model trained on the other folds ranks each fold's queries; MRR@10 of articles (an article
   ranks as its best-scored passage, and a PIAF answer must be that passage), beside the
   first stage's MRR@10 on the same shortlists.
4. The model trained on every query is written to search/models/ranker.txt; the fold models
   and the folds to --fold-dir, for bench/relevance.py --fold-dir (an honest PIAF figure:
   each dev question ranked by a model that never saw its article).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import LEAD_SAMPLE, ORANGESUM, PROJECT, Progress, even_sample, log, source_key
from relevance import DEFAULT_CACHE, prepare_corpus

from search import Index, RankingConfig
from search.rerank import BASE_FEATURES, FEATURES, versus_best

SEED = 20261202
MODEL = PROJECT / "search" / "models" / "ranker.txt"
PARAMS = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.9,
    "lambdarank_truncation_level": 20,
    "seed": SEED,
    "deterministic": True,
    "num_threads": 1,
    "verbose": -1,
}
ROUNDS = 300


@dataclass
class Group:
    """One training query's shortlist: features, labels, and what groups its fold."""

    kind: str  # "piaf" or "lead"
    key: str  # the PIAF article or the lead's article: folds never split one
    features: np.ndarray
    labels: np.ndarray
    articles: tuple[str, ...]
    first_stage: np.ndarray  # the first stage's order as a score (higher is better)


def training_leads(n: int) -> list[tuple[str, str]]:
    """(article id, abstract) of dev articles with an abstract, outside the evaluation list."""
    held_out = set(LEAD_SAMPLE.read_text(encoding="utf-8").split())
    found = []
    with open(ORANGESUM, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record.get("abstract") and record["id"] not in held_out:
                found.append((record["id"], record["abstract"]))
    return [found[i] for i in even_sample(len(found), n)]


def capture(index: Index, text: str):
    """What the second stage sees of the page's default search for this text, or None."""
    return index.shortlist(text, unscored=True, collapse=False, limit=10)


# Shortlists are collected this wide, and cut to the window each model is trained for.
COLLECT_ARTICLES = 80
COLLECT_PASSAGES = 5


def cached_groups(index_path: Path, corpus, n_leads: int, data: Path | None = None) -> list[Group]:
    """The training queries' shortlists, read again from the cache while search/ and the
    index are unchanged (collecting them takes minutes)."""
    wide = RankingConfig(
        second_stage_articles=COLLECT_ARTICLES, second_stage_passages=COLLECT_PASSAGES
    )
    index = Index.open(index_path, ranking=wide)
    try:
        generation = index.info().generation
        code = source_key(*sorted((PROJECT / "search").rglob("*.py")))
        size = f"{n_leads}-{COLLECT_ARTICLES}x{COLLECT_PASSAGES}"
        path = data or DEFAULT_CACHE / f"ranker-data-{code}-{generation}-{size}.pkl"
        if path.exists():
            log(f"reusing {path}")
            with open(path, "rb") as f:
                return pickle.load(f)
        groups = collect(index, corpus, n_leads)
    finally:
        index.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".tmp"), "wb") as f:
        pickle.dump(groups, f)
    os.replace(path.with_suffix(".tmp"), path)
    return groups


def collect(index: Index, corpus, n_leads: int) -> list[Group]:
    """Every training query's shortlist and labels."""
    groups: list[Group] = []
    paragraph_of = corpus.paragraph_of
    progress = Progress("PIAF questions", len(corpus.questions))
    for done, question in enumerate(corpus.questions, start=1):
        progress(done)
        seen = capture(index, question.text)
        if seen is None:
            continue
        article, paragraph = question.answer.split("#")
        labels = np.asarray(
            [
                a == article and paragraph_of[a][p] == int(paragraph)
                for a, p in zip(seen.article_ids, seen.positions, strict=True)
            ],
            dtype=np.int32,
        )
        groups.append(_group("piaf", article, seen, labels))
    leads = training_leads(n_leads)
    progress = Progress("leads", len(leads))
    for done, (article, abstract) in enumerate(leads, start=1):
        progress(done)
        seen = capture(index, abstract)
        if seen is None:
            continue
        labels = np.asarray([a == article for a in seen.article_ids], dtype=np.int32)
        groups.append(_group("lead", article, seen, labels))
    return groups


def _group(kind: str, key: str, seen, labels: np.ndarray) -> Group:
    base = seen.features[:, : len(BASE_FEATURES)]  # the rest is made again after ``cut``
    return Group(kind, key, base, labels, seen.article_ids, np.asarray(seen.scores))


def cut(groups: list[Group], articles: int, passages: int) -> list[Group]:
    """The shortlists as a narrower window would have made them, with every feature."""
    a, p = FEATURES.index("article_rank"), FEATURES.index("passage_rank")
    out = []
    for g in groups:
        keep = (g.features[:, a] < articles) & (g.features[:, p] < passages)
        out.append(
            Group(
                g.kind,
                g.key,
                versus_best(g.features[keep]),
                g.labels[keep],
                tuple(x for x, k in zip(g.articles, keep.tolist(), strict=True) if k),
                g.first_stage[keep],
            )
        )
    return out


def without(groups: list[Group], names: list[str]) -> list[Group]:
    """The shortlists with these base features (and what is made of them) held at 0."""
    columns = [BASE_FEATURES.index(n.removesuffix("_vs_best")) for n in names]
    out = []
    for g in groups:
        features = g.features.copy()
        features[:, columns] = 0.0
        out.append(Group(g.kind, g.key, features, g.labels, g.articles, g.first_stage))
    return out


def fold_of(groups: list[Group], k: int) -> dict[str, int]:
    """Each PIAF article and lead article's fold, drawn with the fixed seed."""
    keys = sorted({(g.kind, g.key) for g in groups})
    random.Random(SEED).shuffle(keys)
    return {f"{kind}:{key}": i % k for i, (kind, key) in enumerate(keys)}


# Each question counts this many times in training (the leads outnumber them two to one).
QUESTION_WEIGHT = 1


def train(groups: list[Group]):
    import lightgbm

    usable = [
        g
        for g in groups
        if g.labels.any()
        for _ in range(QUESTION_WEIGHT if g.kind == "piaf" else 1)
    ]
    data = lightgbm.Dataset(
        np.vstack([g.features for g in usable]),
        label=np.concatenate([g.labels for g in usable]),
        group=[len(g.labels) for g in usable],
        feature_name=list(FEATURES),
        free_raw_data=False,
    )
    return lightgbm.train(PARAMS, data, num_boost_round=ROUNDS)


def reciprocal_rank(group: Group, scores: np.ndarray) -> float:
    """1/rank of the answer among articles (each its best-scored passage), 0 past 10."""
    best: dict[str, tuple[float, int]] = {}
    for row, (article, score) in enumerate(zip(group.articles, scores.tolist(), strict=True)):
        if article not in best or score > best[article][0]:
            best[article] = (score, row)
    ranked = sorted(best.items(), key=lambda item: -item[1][0])
    for rank, (_, (_, row)) in enumerate(ranked[:10], start=1):
        if group.labels[row]:
            return 1 / rank
    return 0.0


def cross_validate(groups: list[Group], folds: dict[str, int], k: int) -> dict:
    figures: dict[str, dict[str, list[float]]] = {
        kind: {"model": [], "first": []} for kind in ("piaf", "lead")
    }
    models = []
    for fold in range(k):
        log(f"fold {fold + 1}/{k} ...")
        train_on = [g for g in groups if folds[f"{g.kind}:{g.key}"] != fold]
        test_on = [g for g in groups if folds[f"{g.kind}:{g.key}"] == fold]
        model = train(train_on)
        models.append(model)
        for g in test_on:
            scores = model.predict(g.features, num_threads=1)
            figures[g.kind]["model"].append(reciprocal_rank(g, scores))
            figures[g.kind]["first"].append(reciprocal_rank(g, g.first_stage))
    return {"figures": figures, "models": models}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reuse-index", type=Path, required=True, help="the relevance corpus's index")
    p.add_argument("--leads", type=int, default=8000, help="training leads (an even sample)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--fold-dir", type=Path, default=DEFAULT_CACHE / "ranker-folds")
    p.add_argument(
        "--try-window",
        type=lambda t: tuple(int(x) for x in t.split("x")),
        action="append",
        default=[],
        metavar="AxP",
        help="also cross-validate a window of A articles x P passages (repeatable)",
    )
    p.add_argument(
        "--data",
        type=Path,
        help="the collected shortlists: reused if there, written there if not (default: in "
        "the cache dir, keyed by search/'s code and the index)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a LightGBM parameter for this run (e.g. num_leaves=31; rounds=500)",
    )
    p.add_argument("--model", type=Path, default=MODEL, help="where the trained model goes")
    p.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="FEATURE",
        choices=FEATURES,
        help="cross-validate with this feature held constant (repeatable; an ablation: "
        "no model is written)",
    )
    args = p.parse_args(argv)
    for setting in args.param:
        name, _, value = setting.partition("=")
        try:
            number = float(value)
        except ValueError:  # a name, as objective=rank_xendcg
            PARAMS[name] = value
            continue
        if name == "rounds":
            global ROUNDS
            ROUNDS = int(number)
        elif name == "question_weight":
            global QUESTION_WEIGHT
            QUESTION_WEIGHT = int(number)
        else:
            PARAMS[name] = int(number) if number.is_integer() else number
    started = time.monotonic()
    corpus = prepare_corpus(DEFAULT_CACHE, None, False)
    collected = cached_groups(args.reuse_index, corpus, args.leads, args.data)
    if args.without:
        collected = without(collected, args.without)
    folds = fold_of(collected, args.folds)
    for articles, passages in args.try_window:
        cv = cross_validate(cut(collected, articles, passages), folds, args.folds)
        figures = {k: np.mean(v["model"]) for k, v in cv["figures"].items()}
        print(
            f"window {articles} articles x {passages} passages: cross-validated MRR@10 "
            + ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        )
    default = RankingConfig()
    groups = cut(collected, default.second_stage_articles, default.second_stage_passages)
    cv = cross_validate(groups, folds, args.folds)
    print(f"parameters: {PARAMS}, {ROUNDS} rounds, questions x{QUESTION_WEIGHT}")
    print(
        f"# second-stage ranker, {len(FEATURES)} features, seed {SEED}, window "
        f"{default.second_stage_articles} articles x {default.second_stage_passages} passages"
    )
    print(
        f"queries: {sum(g.kind == 'piaf' for g in groups)} PIAF questions, "
        f"{sum(g.kind == 'lead' for g in groups)} leads; {args.folds} folds grouped by article"
    )
    for kind in ("piaf", "lead"):
        found = [g for g in groups if g.kind == kind]
        reach = sum(bool(g.labels.any()) for g in found) / max(len(found), 1)
        print(f"{kind:<5} answer in the shortlist: {reach:.3f} of {len(found)} queries")
    for kind, values in cv["figures"].items():
        model, first = np.mean(values["model"]), np.mean(values["first"])
        print(
            f"{kind:<5} cross-validated MRR@10: model {model:.3f}, first stage {first:.3f} "
            f"(x{model / first:.3f}) on {len(values['model'])} queries"
        )
    if args.without:
        print(f"without {', '.join(args.without)}: no model written")
        return 0
    args.fold_dir.mkdir(parents=True, exist_ok=True)
    for fold, model in enumerate(cv["models"]):
        model.save_model(str(args.fold_dir / f"fold-{fold}.txt"))
    (args.fold_dir / "folds.json").write_text(json.dumps(folds), encoding="utf-8")
    final = train(groups)
    args.model.parent.mkdir(parents=True, exist_ok=True)
    final.save_model(str(args.model))
    gain = final.feature_importance("gain")
    ranked = sorted(zip(FEATURES, gain, strict=True), key=lambda item: -item[1])
    print("feature gain: " + ", ".join(f"{n} {g / gain.sum():.2f}" for n, g in ranked[:10]))
    print(f"model: {args.model} ({args.model.stat().st_size // 1024} KB); folds: {args.fold_dir}")
    print(f"total run time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
