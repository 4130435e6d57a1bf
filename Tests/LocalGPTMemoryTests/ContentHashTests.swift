//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Testing

@testable import LocalGPTMemory

@Suite struct ContentHashTests {
    /// The index keys files, chunks and embedding-cache entries by these hashes: they must stay
    /// standard SHA-256 (FIPS 180-4 examples), or every existing index would be rebuilt.
    @Test func contentHashesAreStandardSHA256() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
        #expect(
            SHA256.hex(String(repeating: "a", count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        )
    }

    /// A file's first heading is found in a CRLF file too, and only the heading line goes into
    /// the context every chunk of the file is found by.
    @Test func theContextIsTheNameAndTheFirstHeadingWhateverTheLineEnds() {
        func context(_ text: String, key: String = "notes/plan.md") -> String {
            let file = ScannedFile(absolutePath: "/w/" + key, key: key, source: "memory", size: 0, mtime: 0)
            var text = text
            return text.withUTF8 { MemoryIndex.context(file: file, UnsafeRawBufferPointer($0)) }
        }
        #expect(context("# Garden plan\nturnips and kale\n") == "plan.md Garden plan")
        #expect(context("# Garden plan\r\nturnips and kale\r\n") == "plan.md Garden plan")
        #expect(context("\r\n  \t\r\n## \u{00A0}Budget 2025 \u{2003}\r\nmore\r\n") == "plan.md Budget 2025")
        #expect(context("no heading here\nnor here\n") == "plan.md")
        #expect(context("x\n" + String(repeating: "line\n", count: 12) + "# Too late\n") == "plan.md")
        #expect(context("# Title", key: "top.md") == "top.md Title")
    }
}
