//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Crypto

/// SHA-256 as lower-case hex: the index's content hash of every file it indexes and every text it
/// embeds. swift-crypto computes it (BoringSSL, with the CPU's SHA instructions where it has them).
enum SHA256 {
    private static let digits = Array("0123456789abcdef".utf8)

    /// The digest of `bytes` as 64 hex characters.
    static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = Crypto.SHA256()
        hasher.update(bufferPointer: bytes)
        let digest = hasher.finalize()
        return String(unsafeUninitializedCapacity: 64) { out in
            var i = 0
            for byte in digest {
                out[i] = digits[Int(byte >> 4)]
                out[i + 1] = digits[Int(byte & 0x0F)]
                i += 2
            }
            return 64
        }
    }

    /// The digest of a string's UTF-8 bytes as 64 hex characters.
    static func hex(_ text: String) -> String {
        var text = text
        return text.withUTF8 { hex(UnsafeRawBufferPointer($0)) }
    }
}
