//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Foundation's folding (``TextAnalysis/foldedWhole(_:)``) of text in any script, scalar by
/// scalar from a generated table (FoldTable+Generated.swift, made by scripts/gen-fold-table.swift).
///
/// Folding a whole text with Foundation costs ~100 µs per 2 KB chunk, which indexing pays on
/// every chunk of non-ASCII text. Foundation folds scalar by scalar except around a few scalars:
/// ``contextual`` ones (an enclosing or joining mark, an emoji skin tone, a tag), and the vowel
/// signs of ``composing`` (Tamil U+0BBE, Malayalam U+0D57, ...) unless they follow a scalar of
/// their own block that folds to itself, as they do in well-formed text (Foundation drops them
/// elsewhere). A text holding either is left to Foundation. `IndexTextTests` compares the table
/// with Foundation on every scalar, so a toolchain whose folding differs fails the tests rather
/// than the index.
struct FoldTable: Sendable {
    /// For each block of 256 scalars, its first slot in ``slots``, or -1 when the block folds to
    /// itself.
    private let blockStart: [Int32]
    /// Per scalar of a listed block: ``wholeText`` when contextual, else ``composingFlag`` for
    /// the marks of ``composing``, with 0 when it folds to itself or `(offset + 1) << 8 | length`
    /// of its folding's UTF-8 in ``bytes``.
    private let slots: [UInt32]
    private let bytes: [UInt8]

    private static let wholeText = UInt32.max
    private static let composingFlag: UInt32 = 1 << 31

    static let shared = FoldTable()

    private init() {
        var blockStart = [Int32](repeating: -1, count: 0x110000 >> 8)
        var slots: [UInt32] = []
        var bytes: [UInt8] = []
        func slot(_ value: UInt32) -> Int {
            let block = Int(value >> 8)
            if blockStart[block] < 0 {
                blockStart[block] = Int32(slots.count)
                slots += [UInt32](repeating: 0, count: 256)
            }
            return Int(blockStart[block]) + Int(value & 0xFF)
        }
        // Parsed byte by byte: the table is read at the first non-ASCII text of each process.
        var first: UInt32?
        var start = 0
        Self.forEachHexNumber(in: Self.changes) { value, endsLine in
            if first != nil {
                if let s = Unicode.Scalar(value) { bytes += UTF8.encode(s)! }
            } else {
                first = value
                start = bytes.count
            }
            if endsLine, let scalar = first {
                precondition(bytes.count - start < 256, "a folding longer than 255 bytes")
                slots[slot(scalar)] = UInt32(start + 1) << 8 | UInt32(bytes.count - start)
                first = nil
            }
        }
        Self.forEachHexNumber(in: Self.composing) { value, _ in slots[slot(value)] |= Self.composingFlag }
        Self.forEachHexNumber(in: Self.contextual) { value, _ in slots[slot(value)] = Self.wholeText }
        self.blockStart = blockStart
        self.slots = slots
        self.bytes = bytes
    }

    /// Calls `body` with each hexadecimal number of `text` and whether it ends its line.
    private static func forEachHexNumber(in text: String, _ body: (UInt32, Bool) -> Void) {
        var value: UInt32 = 0
        var digits = 0
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = value << 4 | UInt32(c - UInt8(ascii: "0"))
                digits += 1
            case UInt8(ascii: "A")...UInt8(ascii: "F"):
                value = value << 4 | UInt32(c - UInt8(ascii: "A") + 10)
                digits += 1
            default:
                if digits > 0 { body(value, c == UInt8(ascii: "\n")) }
                (value, digits) = (0, 0)
            }
        }
        if digits > 0 { body(value, true) }
    }

    /// The folding of a text's UTF-8 (valid), or nil when Foundation must fold it whole.
    func fold(_ utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = 0
        // The 128-scalar block of the previous scalar when it folded to itself and was not a
        // composing mark: the one place a composing mark folds alone.
        var ownBlock = UInt32.max
        while i < utf8.count {
            let b = utf8[i]
            if b < 0x80 {
                out.append(b >= 0x41 && b <= 0x5A ? b + 32 : b)
                ownBlock = .max
                i += 1
                continue
            }
            let (value, length) = UTF8Scalar.decode(utf8, at: i)
            let start = blockStart[Int(value >> 8)]
            let slot = start < 0 ? 0 : slots[Int(start) + Int(value & 0xFF)]
            if slot == 0 {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[i..<(i + length)]))
                ownBlock = value >> 7
            } else if slot == Self.wholeText {
                return nil
            } else if slot == Self.composingFlag {
                guard ownBlock == value >> 7 else { return nil }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[i..<(i + length)]))
                ownBlock = .max
            } else {
                guard slot & Self.composingFlag == 0 else { return nil }
                let offset = Int(slot >> 8) - 1
                out.append(contentsOf: bytes[offset..<(offset + Int(slot & 0xFF))])
                ownBlock = .max
            }
            i += length
        }
        return out
    }
}

/// Decoding one scalar of valid UTF-8.
enum UTF8Scalar {
    /// The scalar that starts at `i` and its length in bytes.
    @inline(__always)
    static func decode(_ utf8: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
        let lead = utf8[i]
        if lead < 0x80 { return (UInt32(lead), 1) }
        if lead < 0xE0 { return (UInt32(lead & 0x1F) << 6 | UInt32(utf8[i + 1] & 0x3F), 2) }
        if lead < 0xF0 {
            return (UInt32(lead & 0x0F) << 12 | UInt32(utf8[i + 1] & 0x3F) << 6 | UInt32(utf8[i + 2] & 0x3F), 3)
        }
        let value =
            UInt32(lead & 0x07) << 18 | UInt32(utf8[i + 1] & 0x3F) << 12 | UInt32(utf8[i + 2] & 0x3F) << 6
            | UInt32(utf8[i + 3] & 0x3F)
        return (value, 4)
    }
}
