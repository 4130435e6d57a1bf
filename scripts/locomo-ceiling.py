#!/usr/bin/env python3
"""The highest evidence recall@k any ranking could reach on a LoCoMo-style split with the
product's real chunks: for each question, k chunks are picked greedily to cover as many of its
evidence lines as possible (greedy set cover: a lower bound of the true ceiling).

Usage: scripts/locomo-ceiling.py SPLIT_DIR CACHE_DIR
  SPLIT_DIR  the split (questions.jsonl, conv-*/workspace)
  CACHE_DIR  the indexes `localgpt memory bench-locomo SPLIT_DIR --cache-dir CACHE_DIR` left there
"""
import collections
import json
import os
import sqlite3
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    split, cache = sys.argv[1], sys.argv[2]
    questions = [json.loads(l) for l in open(os.path.join(split, "questions.jsonl")) if l.strip()]
    chunks = {}
    for conv in sorted({q["conv"] for q in questions}):
        path = os.path.join(cache, conv + ".sqlite")
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run bench-locomo with --cache-dir {cache} first")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        chunks[conv] = db.execute("SELECT path, start_line, end_line FROM chunks").fetchall()
        db.close()
    ks = (5, 10)
    total = {k: 0.0 for k in ks}
    by_category = collections.defaultdict(lambda: [0] + [0.0 for _ in ks])
    for q in questions:
        evidence = sorted({(e["file"], e["line"]) for e in q["evidence"]})
        covers = {
            frozenset(i for i, (f, n) in enumerate(evidence) if f == p and s <= n <= e)
            for p, s, e in chunks[q["conv"]]
        }
        covers = [c for c in covers if c]
        row = by_category[q["category"]]
        row[0] += 1
        for j, k in enumerate(ks):
            covered = set()
            for _ in range(k):
                best = max(covers, key=lambda c: len(c - covered), default=frozenset())
                covered |= best
            r = len(covered) / len(evidence) if evidence else 0
            total[k] += r
            row[1 + j] += r
    n = len(questions)
    print(f"ceiling with the product's chunks ({n} questions): "
          + ", ".join(f"R@{k} {total[k] / n:.3f}" for k in ks))
    for cat in sorted(by_category):
        row = by_category[cat]
        print(f"    category {cat} ({row[0]:3d})  "
              + "  ".join(f"{row[1 + j] / row[0]:.3f}" for j in range(len(ks))))


if __name__ == "__main__":
    main()
