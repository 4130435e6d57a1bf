//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

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
        a.path.utf8.elementsEqual(b.path.utf8)
    }

    func hash(into hasher: inout Hasher) {
        var copy = path
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
