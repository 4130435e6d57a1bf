// Generates Sources/LocalGPTMemory/Search/FoldTable+Generated.swift: how Foundation folds each
// Unicode scalar from U+0080 up (case, diacritics, width; nonspacing marks dropped), for the
// scalars it changes, and which scalars fold differently beside their neighbours. About a minute:
//
//     swiftc -O scripts/gen-fold-table.swift -o /tmp/gen-fold-table
//     /tmp/gen-fold-table > Sources/LocalGPTMemory/Search/FoldTable+Generated.swift
//
// Run it again (and bump IndexSchema.ftsIdentity) when a new toolchain's Foundation folds
// differently: `IndexTextTests` compares the table with Foundation on every scalar.
import Foundation

/// The folding of ``TextAnalysis/foldedWhole(_:)``, restated here so that the script stands alone.
func fold(_ text: String) -> String {
    let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
    var out = String.UnicodeScalarView()
    for s in folded.unicodeScalars where !(s.value >= 0x300 && s.properties.generalCategory == .nonspacingMark) {
        out.append(s)
    }
    return String(out)
}

func hex(_ v: UInt32) -> String { String(v, radix: 16, uppercase: true) }

// 1. Every scalar that does not fold to itself alone.
var single: [UInt32: String] = [:]
var entries: [String] = []
for v in UInt32(0x80)...0x10FFFF {
    guard let s = Unicode.Scalar(v) else { continue }
    let f = fold(String(s))
    single[v] = f
    if f != String(s) {
        entries.append(([v] + f.unicodeScalars.map(\.value)).map(hex).joined(separator: " "))
    }
}

// 2. Scalars that fold differently after another one than alone: pairs of assigned scalars from
// the same 256-scalar block, for every block with a letter or a mark that folds, and every such
// scalar followed by the combining, joining, emoji-modifier, tag and voiced-mark scalars.
func assigned(_ v: UInt32) -> Unicode.Scalar? {
    guard let s = Unicode.Scalar(v) else { return nil }
    switch s.properties.generalCategory {
    case .unassigned, .privateUse, .surrogate: return nil
    default: return s
    }
}
let followers: [UInt32] =
    Array(0x300..<0x370) + Array(0x1AB0..<0x1B00) + Array(0x1DC0..<0x1E00) + Array(0x20D0..<0x2100)
    + Array(0xFE00..<0xFE30) + [0x200C, 0x200D] + Array(0x1F3FB...0x1F3FF) + Array(0xE0000..<0xE0080)
    + Array(0x3099...0x309C) + [0xFF9E, 0xFF9F]
var blocks = Set<UInt32>()
for v in single.keys where single[v] != String(Unicode.Scalar(v)!) { blocks.insert(v >> 8) }
for b in [0x4E, 0xAC, 0x30, 0x1F3, 0x1F6, 0x26, 0x27] as [UInt32] { blocks.insert(b) }  // CJK, Hangul, kana, emoji
var contextual = Set<UInt32>()
for block in blocks.sorted() {
    let own = ((block << 8)..<((block + 1) << 8)).compactMap(assigned)
    let seconds = own + followers.compactMap(assigned)
    for a in own {
        let fa = single[a.value] ?? fold(String(a))
        for b in seconds where !contextual.contains(b.value) {
            var pair = String.UnicodeScalarView()
            pair.append(a)
            pair.append(b)
            if fold(String(pair)) != fa + (single[b.value] ?? fold(String(b))) { contextual.insert(b.value) }
        }
    }
}

// 3. Marks that compose with an earlier vowel sign (U+0BBE, U+0D57, ...): Foundation keeps
// them only after a scalar of their own 128-scalar block that folds to itself ("k" U+093C U+0BBE
// and " " U+0BBE lose the sign). Found after a letter and a dropped mark; the rule is then
// checked on every pair and on triples, and the script stops if it does not hold.
let dropped = single.keys.sorted().compactMap { v -> Unicode.Scalar? in
    single[v]!.isEmpty && !contextual.contains(v) ? Unicode.Scalar(v) : nil
}
let marks = (UInt32(0x300)...0x1FFFF).compactMap { v -> Unicode.Scalar? in
    guard let s = Unicode.Scalar(v), !contextual.contains(v) else { return nil }
    switch s.properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark: return s
    default: return nil
    }
}
func folds(_ scalars: [Unicode.Scalar]) -> Bool {
    var text = String.UnicodeScalarView()
    for s in scalars { text.append(s) }
    return fold(String(text)) == scalars.map { single[$0.value] ?? fold(String($0)) }.joined()
}
var composing = Set<UInt32>()
for base in ["k", "\u{915}"].map({ Unicode.Scalar($0)! }) {
    for b in marks where !composing.contains(b.value) {
        if dropped.contains(where: { !folds([base, $0, b]) }) { composing.insert(b.value) }
    }
}
/// Whether the rule lets `b` fold alone after `a`.
func ownBlock(_ a: Unicode.Scalar, _ b: Unicode.Scalar) -> Bool {
    a.value >> 7 == b.value >> 7 && (single[a.value] ?? String(a)) == String(a) && !composing.contains(a.value)
}
let everyScalar = (UInt32(0x20)...0x1FFFF).compactMap(assigned)
let someScalars = stride(from: 0, to: everyScalar.count, by: 61).map { everyScalar[$0] }
for b in composing.sorted().map({ Unicode.Scalar($0)! }) {
    let block = ((b.value >> 7) << 7)..<((b.value >> 7 + 1) << 7)
    let own = block.compactMap(assigned)
    for a in everyScalar where ownBlock(a, b) && !folds([a, b]) {
        fatalError("U+\(hex(b.value)) after U+\(hex(a.value)) breaks the rule of the composing marks")
    }
    for a in own where ownBlock(a, b) {
        for q in someScalars + own where !folds([q, a, b]) {
            fatalError("U+\(hex(b.value)) after U+\(hex(q.value)) U+\(hex(a.value)) breaks the rule")
        }
    }
}

print(
    """
    //===----------------------------------------------------------------------===//
    // LocalGPT for Swift. Apache-2.0.
    //===----------------------------------------------------------------------===//

    // Generated by scripts/gen-fold-table.swift from this toolchain's Foundation. Do not edit.

    extension FoldTable {
        /// Each scalar from U+0080 up that Foundation's folding changes, then what it folds to
        /// (nothing: dropped), in hexadecimal, one a line.
        static let changes = \"\"\"
    """
)
for e in entries { print("        \(e)") }

/// Ends the previous string literal and prints `values` as the next one, twelve a line.
func printList(_ documentation: String, _ name: String, _ values: Set<UInt32>) {
    print("        \"\"\"\n")
    for line in documentation.split(separator: "\n") { print("    /// \(line)") }
    print("    static let \(name) = \"\"\"")
    let sorted = values.sorted().map(hex)
    for start in stride(from: 0, to: sorted.count, by: 12) {
        print("        " + sorted[start..<min(start + 12, sorted.count)].joined(separator: " "))
    }
}
printList(
    """
    Scalars that fold differently after another scalar than alone: a text holding one is
    folded whole.
    """,
    "contextual",
    contextual
)
printList(
    """
    Marks that compose with an earlier vowel sign: folded alone only right after a scalar
    of their own 128-scalar block that folds to itself (and is not one of them), else the
    text is folded whole.
    """,
    "composing",
    composing
)
print("        \"\"\"\n}")
