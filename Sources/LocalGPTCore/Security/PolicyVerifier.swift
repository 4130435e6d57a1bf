//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc

/// A `LocalGPT.md` that passed verification: what the agent injects at the end of each request.
public struct VerifiedPolicy: Sendable, Equatable {
    /// The text to inject: the file with model-control markers replaced by `[FILTERED]`, capped at
    /// ``PolicyVerifier/maxCharacters`` with a notice when longer.
    public var text: String
    /// Characters (Unicode scalars) in the signed file.
    public var characterCount: Int
    /// Whether ``text`` was cut at the cap.
    public var isTruncated: Bool
    /// How many markers were replaced.
    public var filteredMarkers: Int
}

/// The outcome of verifying `LocalGPT.md` against its manifest and the device key.
public struct PolicyVerification: Sendable, Equatable {
    /// Each outcome of the pipeline, in the order the checks run.
    public enum Status: Sendable, Equatable {
        /// There is no `LocalGPT.md`.
        case missing
        /// `LocalGPT.md` exists but cannot be read (permissions, a directory...).
        case unreadable(String)
        /// There is no manifest: the file was never signed.
        case unsigned
        /// The manifest is not valid JSON or lacks a field.
        case manifestCorrupted(String)
        /// The device key is missing, the wrong size, or readable by others.
        case deviceKeyInvalid(SecurityError)
        /// The content hash or the HMAC does not match: the file (or the manifest) changed after signing.
        case tampered(String)
        /// Signed, but not UTF-8 text; the byte offset of the first invalid sequence.
        case invalidEncoding(byteOffset: Int)
        /// Signed, but holds an injection phrase (the first one found).
        case suspicious(InjectionPatterns.Match)
        /// Signed and clean, but longer than the cap: injected capped, with a notice.
        case oversize(characters: Int, limit: Int)
        /// Signed and clean.
        case valid
    }

    public var status: Status
    /// The policy to inject: set for ``Status/valid`` and ``Status/oversize(characters:limit:)`` only.
    public var policy: VerifiedPolicy?
    /// SHA-256 of the bytes read, when the file was read.
    public var contentSHA256: String?
    /// The file's size in bytes, when it exists.
    public var byteCount: Int?
    /// The manifest, when it parsed.
    public var manifest: PolicyManifest?
    /// Every suspicious phrase found (for ``Status/suspicious(_:)``).
    public var suspiciousMatches: [InjectionPatterns.Match] = []

    /// Whether the agent may inject ``policy``: only a verified policy is, never a rejected one.
    public var isInjectable: Bool { policy != nil }

    /// Whether `security.strict_policy` makes this outcome stop the agent (tampering, injection).
    public var isFatalInStrictMode: Bool {
        switch status {
        case .tampered, .suspicious: return true
        default: return false
        }
    }

    /// The audit action for this outcome.
    public var auditAction: AuditAction {
        switch status {
        case .missing: return .missing
        case .unreadable: return .policyUnreadable
        case .unsigned: return .unsigned
        case .manifestCorrupted: return .manifestCorrupted
        case .deviceKeyInvalid: return .deviceKeyInvalid
        case .tampered: return .tamperDetected
        case .invalidEncoding: return .invalidEncoding
        case .suspicious: return .suspiciousContent
        case .oversize, .valid: return .verified
        }
    }

    /// A short upper-case label: `VALID`, `TAMPER DETECTED`, ...
    public var label: String {
        switch status {
        case .missing: return "MISSING"
        case .unreadable: return "UNREADABLE"
        case .unsigned: return "UNSIGNED"
        case .manifestCorrupted: return "MANIFEST CORRUPTED"
        case .deviceKeyInvalid: return "DEVICE KEY INVALID"
        case .tampered: return "TAMPER DETECTED"
        case .invalidEncoding: return "NOT UTF-8"
        case .suspicious: return "REJECTED (suspicious content)"
        case .oversize: return "VALID, CAPPED"
        case .valid: return "VALID"
        }
    }

    /// One or two sentences: what was found and what to do about it.
    public var explanation: String {
        switch status {
        case .missing:
            return "There is no LocalGPT.md in the workspace; the agent runs with the built-in rules only."
        case .unreadable(let why):
            return "LocalGPT.md cannot be read (\(why)); it is not used."
        case .unsigned:
            return "LocalGPT.md is not signed, so it is not used. Review it, then run `localgpt md sign`."
        case .manifestCorrupted(let why):
            return "The signature file .localgpt_manifest.json is corrupted (\(why)); LocalGPT.md is not used. "
                + "Review LocalGPT.md, then run `localgpt md sign`."
        case .deviceKeyInvalid(let error):
            return "The signature cannot be checked: \(error.message). LocalGPT.md is not used."
        case .tampered(let why):
            return "LocalGPT.md changed after it was signed (\(why)); it is not used. If you made the change, "
                + "review the file and re-sign it with `localgpt md sign`; otherwise restore it."
        case .invalidEncoding(let offset):
            return "LocalGPT.md is not UTF-8 text (invalid byte at offset \(offset)); it is not used. Save it as "
                + "UTF-8 and re-sign it with `localgpt md sign`."
        case .suspicious(let m):
            return "LocalGPT.md contains \"\(m.excerpt)\" (\(m.phrase), line \(m.line)), a prompt-injection "
                + "phrase; it is not used. Rephrase that line and re-sign it with `localgpt md sign`."
        case .oversize(let characters, let limit):
            return "LocalGPT.md is signed and clean, but \(characters) characters long: only the first \(limit) "
                + "are used."
        case .valid:
            return "LocalGPT.md is signed and clean (\(policy?.characterCount ?? 0) characters); it is used."
        }
    }
}

/// Verifies `LocalGPT.md`: missing → unsigned → manifest corrupted → device key → tampered
/// (SHA-256, then HMAC in constant time) → not UTF-8 → suspicious content → capped → valid.
/// Each check runs only when the previous one passed. Reads files; writes nothing.
public struct PolicyVerifier: Sendable {
    /// The most characters (Unicode scalars) injected; a longer policy is capped with a notice.
    public static let maxCharacters = 4096
    /// The largest `LocalGPT.md` that is read at all (`md sign` refuses larger files).
    public static let maxFileBytes = 16 << 20

    public var policyPath: String
    public var manifestPath: String
    public var deviceKeyPath: String

    public init(policyPath: String, manifestPath: String, deviceKeyPath: String) {
        self.policyPath = policyPath
        self.manifestPath = manifestPath
        self.deviceKeyPath = deviceKeyPath
    }

    /// The verifier for a LocalGPT home's workspace.
    public init(paths: LocalGPTPaths) {
        self.init(policyPath: paths.policyFile, manifestPath: paths.policyManifest, deviceKeyPath: paths.deviceKey)
    }

    /// Runs the pipeline. Never throws: every problem is a ``PolicyVerification/Status``.
    public func verify() -> PolicyVerification {
        var result = PolicyVerification(status: .missing)

        // 1. The file: present and a readable regular file.
        var info = stat()
        if stat(policyPath, &info) != 0 {
            let e = errno
            result.status = e == ENOENT ? .missing : .unreadable(errnoDescription(e))
            return result
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            result.status = .unreadable("not a regular file")
            return result
        }
        result.byteCount = Int(info.st_size)

        // 2. The manifest.
        let manifest: PolicyManifest
        switch FileIO.read(manifestPath, limit: PolicyManifest.maxBytes) {
        case .failure(.errno(ENOENT)):
            result.status = .unsigned
            return result
        case .failure(.errno(let e)):
            result.status = .manifestCorrupted("cannot be read: \(errnoDescription(e))")
            return result
        case .failure(.notRegularFile):
            result.status = .manifestCorrupted("not a regular file")
            return result
        case .failure(.tooLarge(let n)):
            result.status = .manifestCorrupted("\(n) bytes, far larger than a manifest")
            return result
        case .success(let contents):
            do {
                manifest = try PolicyManifest(data: contents.bytes)
            } catch {
                result.status = .manifestCorrupted(error.message)
                return result
            }
        }
        result.manifest = manifest

        // 3. The device key.
        let key: DeviceKey
        do {
            key = try DeviceKey.load(from: deviceKeyPath)
        } catch {
            result.status = .deviceKeyInvalid(error)
            return result
        }

        // 4. The bytes, their hash and their MAC. `md sign` never signs more than maxFileBytes, so a
        // larger file cannot be the signed one.
        let bytes: [UInt8]
        switch FileIO.read(policyPath, limit: Self.maxFileBytes) {
        case .success(let contents): bytes = contents.bytes
        case .failure(.tooLarge(let n)):
            result.byteCount = n
            result.status = .tampered("it is now \(n) bytes, larger than any file `md sign` signs")
            return result
        case .failure(.errno(ENOENT)):
            result.status = .missing
            return result
        case .failure(.errno(let e)):
            result.status = .unreadable(errnoDescription(e))
            return result
        case .failure(.notRegularFile):
            result.status = .unreadable("not a regular file")
            return result
        }
        result.byteCount = bytes.count
        let sha = sha256Hex(bytes)
        result.contentSHA256 = sha
        guard sha == manifest.contentSHA256 else {
            result.status = .tampered("its SHA-256 differs from the one signed at \(manifest.signedAt)")
            return result
        }
        guard key.isValidAuthenticationCode(manifest.hmacSHA256, for: bytes) else {
            result.status = .tampered(
                "the manifest's HMAC does not match: the manifest was edited, or signed with another device key"
            )
            return result
        }

        // 5. UTF-8 text.
        guard let text = String(validating: bytes, as: UTF8.self) else {
            result.status = .invalidEncoding(byteOffset: UTF8Validation.firstInvalidOffset(bytes) ?? 0)
            return result
        }

        // 6. Markers filtered, then injection phrases.
        let (filtered, markerCount) = InjectionPatterns.filterMarkers(text)
        let matches = InjectionPatterns.suspiciousPhrases(in: filtered)
        if let first = matches.first {
            result.suspiciousMatches = matches
            result.status = .suspicious(first)
            return result
        }

        // 7. The cap (in Unicode scalars, counted on the UTF-8 bytes).
        let originalCharacters = UTF8Validation.scalarCount(bytes)
        let filteredBytes = markerCount == 0 ? bytes : Array(filtered.utf8)
        let characters = markerCount == 0 ? originalCharacters : UTF8Validation.scalarCount(filteredBytes)
        if characters > Self.maxCharacters {
            let end = UTF8Validation.byteOffset(ofScalar: Self.maxCharacters, in: filteredBytes)
            let capped =
                String(decoding: filteredBytes[..<end], as: UTF8.self)
                + "\n\n[LocalGPT.md truncated: only the first \(Self.maxCharacters) of \(characters) characters are "
                + "used.]"
            result.policy = VerifiedPolicy(
                text: capped,
                characterCount: originalCharacters,
                isTruncated: true,
                filteredMarkers: markerCount
            )
            result.status = .oversize(characters: characters, limit: Self.maxCharacters)
            return result
        }
        result.policy = VerifiedPolicy(
            text: filtered,
            characterCount: originalCharacters,
            isTruncated: false,
            filteredMarkers: markerCount
        )
        result.status = .valid
        return result
    }
}

/// UTF-8 helpers on bytes (fast where `String` views are not).
enum UTF8Validation {
    /// The number of Unicode scalars in valid UTF-8: the bytes that are not continuation bytes.
    static func scalarCount(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBufferPointer { buf in
            var n = 0
            for b in buf where b & 0xC0 != 0x80 { n += 1 }
            return n
        }
    }

    /// The byte offset where scalar number `index` (0-based) starts, or `bytes.count`.
    static func byteOffset(ofScalar index: Int, in bytes: [UInt8]) -> Int {
        var seen = 0
        for (i, b) in bytes.enumerated() where b & 0xC0 != 0x80 {
            if seen == index { return i }
            seen += 1
        }
        return bytes.count
    }

    /// The offset of the first byte that does not start a valid UTF-8 sequence, or nil when all
    /// of `bytes` is valid UTF-8.
    static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                guard let length = sequenceLength(b, at: i) else { return i }
                i += length
            }
            return nil
        }
    }

    /// The length of the well-formed sequence that starts at `i` (1 for ASCII), or nil when none
    /// does (a stray continuation byte, an invalid lead, a sequence cut short or malformed).
    static func sequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        let lead = bytes[i]
        let length: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            second = 0x80...0x9F
        case 0xF0:
            length = 4
            second = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            second = 0x80...0x8F
        default: return nil
        }
        guard i + length <= bytes.count, second.contains(bytes[i + 1]) else { return nil }
        for k in 2..<length where !(0x80...0xBF).contains(bytes[i + k]) {
            return nil
        }
        return length
    }
}
