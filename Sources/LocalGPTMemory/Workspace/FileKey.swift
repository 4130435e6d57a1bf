//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc

/// A file's key (its path, as the index stores it) compared byte for byte, for sets and
/// dictionaries of files.
///
/// Swift's `String` equality is canonical equivalence: "café.md" with a precomposed "é" (as
/// Linux tools write it) and with "e" + U+0301 (as files from macOS often come) are two files to
/// the file system and two rows to SQLite, but one `String` key. Keyed by `String`, renaming one
/// spelling to the other kept the old rows forever, and two such files made every update rewrite
/// one of them.
struct FileKey: Hashable, Sendable {
    var path: String

    init(_ path: String) {
        self.path = path
    }

    static func == (a: FileKey, b: FileKey) -> Bool {
        // memcmp of the UTF-8 (a generic walk of the two views cost ~2,000 instructions a lookup).
        var x = a.path
        var y = b.path
        return x.withUTF8 { p in
            y.withUTF8 { q in
                p.count == q.count && (p.isEmpty || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0)
            }
        }
    }

    func hash(into hasher: inout Hasher) {
        var copy = path
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
