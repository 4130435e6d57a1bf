//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Logging
import Testing

/// The configured secrets are hidden wherever text is written: whole, clipped (`prefix…`), several
/// times, overlapping; short values and other text are left alone.
@Suite struct SecretMaskerTests {
    static let key = "sk-test-Q7vX2mR9pL4wK8nB3cT6"

    /// A logger writing to a new log file (its path) through `masker`, at every level.
    static func fileLogger(_ masker: SecretMasker) throws -> (Logger, String) {
        let path = TestSupport.makeTemporaryDirectory("lgpt-log") + "/agent.log"
        let file = try #require(LogFile(path: path, level: .debug))
        let logger = Logger(label: "test") { label in
            LocalGPTLogHandler(
                label: label,
                stderrLevel: .critical,
                fileLevel: .debug,
                file: file,
                secretMasker: masker
            )
        }
        return (logger, path)
    }

    @Test func aWholeOccurrenceIsMasked() {
        let masker = SecretMasker(secrets: [Self.key])
        #expect(masker.mask("export KEY=\(Self.key)") == "export KEY=********")
        #expect(masker.mask(Self.key) == "********")
        // At the very end and the very start, and in a text shorter than the scan's 16-byte blocks.
        #expect(masker.mask("k \(Self.key)") == "k ********")
        #expect(masker.mask("\(Self.key)!") == "********!")
        #expect(masker.containsSecret("a long line of text before the key: \(Self.key) and after it"))
    }

    @Test func aClippedOccurrenceIsMasked() {
        let masker = SecretMasker(secrets: [Self.key])
        // A plugin clips a server's message at 300 characters and appends "…".
        #expect(masker.mask("invalid key sk-test-Q7vX2…") == "invalid key ********…")
        #expect(masker.mask("sk-test…") == "********…")
        // Six characters are the least that is hidden; a prefix not followed by "…" is not a clip.
        #expect(masker.mask("sk-te…") == "sk-te…")
        #expect(masker.mask("the prefix sk-test-Q7 is public") == "the prefix sk-test-Q7 is public")
    }

    /// The scan compares 32 positions at a time, then one by one near the end: a key is found at
    /// every offset, whole and clipped, in texts of every length around the block size.
    @Test func aKeyIsFoundAtEveryOffset() {
        let masker = SecretMasker(secrets: [Self.key])
        for before in 0..<80 {
            for after in [0, 1, 7, 33] {
                let head = String(repeating: "s", count: before)
                let tail = String(repeating: "t", count: after)
                #expect(masker.mask(head + Self.key + tail) == head + "********" + tail, "\(before), \(after)")
                #expect(masker.mask(head + "sk-test-Q7…" + tail) == head + "********…" + tail, "\(before), \(after)")
            }
        }
    }

    @Test func shortValuesAndOtherTextAreLeftAlone() {
        let masker = SecretMasker(secrets: ["abc", "1234567", Self.key])
        let text = "abc 1234567 sk-test-other-key and a line of ordinary text, ünïcödé too"
        #expect(masker.mask(text) == text)
        #expect(!masker.containsSecret(text))
        #expect(SecretMasker(secrets: ["abc", "1234567"]).isEmpty)
        #expect(SecretMasker().mask(Self.key) == Self.key)
    }

    @Test func everyOccurrenceIsMasked() {
        let masker = SecretMasker(secrets: [Self.key])
        let text = Array(repeating: "A=\(Self.key);", count: 40).joined() + " end \(Self.key)"
        let masked = masker.mask(text)
        #expect(!masked.contains("Q7vX2"))
        #expect(masked == Array(repeating: "A=********;", count: 40).joined() + " end ********")
        // Back to back: two masks.
        #expect(masker.mask(Self.key + Self.key) == "****************")
    }

    @Test func overlappingSecretsAreMaskedAsOne() {
        // One inside another, one a prefix of another, and two that share an end and a start.
        let outer = "prefix-" + Self.key + "-suffix"
        let masker = SecretMasker(secrets: [Self.key, outer, "sk-test-Q7vX", "WXYZ0123abcdefgh", "abcdefgh98765432"])
        #expect(masker.mask("a \(outer) b") == "a ******** b")
        #expect(masker.mask("a \(Self.key) b") == "a ******** b")
        #expect(masker.mask("a sk-test-Q7vX b") == "a ******** b")
        #expect(masker.mask("a WXYZ0123abcdefgh98765432 b") == "a ******** b")
    }

    @Test func nonASCIISecretsAndTextAreHandled() {
        let secret = "clé-secrète-ünïcode-42"
        let masker = SecretMasker(secrets: [secret])
        #expect(masker.mask("mot de passe : \(secret) ✓") == "mot de passe : ******** ✓")
        #expect(masker.mask("coupé clé-secr…") == "coupé ********…")
    }

    @Test func jsonStringsAndKeysAreMasked() throws {
        let masker = SecretMasker(secrets: [Self.key])
        let value: JSONValue = ["command": .string("echo \(Self.key)"), "n": 1, "list": [.string(Self.key)]]
        let masked = masker.mask(value)
        #expect(!masked.encoded().contains("Q7vX2"))
        #expect(masked["command"] == "echo ********")
        #expect(masked["n"] == 1)
        let clean: JSONValue = ["command": "ls"]
        #expect(masker.mask(clean) == clean)
    }

    /// One masker is shared by everything that writes (here a log handler built before the secret was
    /// known) and learns: a value added later is hidden by every holder, a short one never.
    @Test func addedSecretsAreHiddenByEveryHolder() throws {
        let masker = SecretMasker(secrets: ["first-secret-value"])
        let (logger, path) = try Self.fileLogger(masker)
        logger.info("before: \(Self.key)")
        masker.add(secrets: [Self.key, "abc", "first-secret-value"])
        logger.info("after: \(Self.key) abc first-secret-value")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("before: \(Self.key)"), "\(text)")
        #expect(text.contains("after: ******** abc ********"), "\(text)")
        #expect(!SecretMasker().containsSecret(Self.key))
        let empty = SecretMasker()
        empty.add(secrets: ["short"])
        #expect(empty.isEmpty)
    }

    /// A cut through a secret leaves none of it, however few of its characters were kept; a secret the
    /// cut keeps whole is left for `mask`, and a cut elsewhere is an ordinary cut.
    @Test func aCutThroughASecretLeavesNoPartOfIt() {
        let masker = SecretMasker(secrets: [Self.key])
        let text = "abc " + Self.key + " and more text after it"
        for kept in 1..<Self.key.count {
            #expect(masker.cut(text, keepingFirst: 4 + kept) == "abc ********", "\(kept)")
        }
        #expect(masker.cut(text, keepingFirst: 4) == "abc ")
        #expect(masker.cut(text, keepingFirst: 4 + Self.key.count) == "abc " + Self.key)
        #expect(masker.cut(text, keepingFirst: 2) == "ab")
        #expect(masker.cut(text, keepingFirst: 1_000) == text)
        #expect(SecretMasker().cut(text, keepingFirst: 9) == "abc sk-te")
        // At every offset around the scan's 32-byte blocks, with the key twice.
        for before in 0..<70 {
            let head = String(repeating: "s", count: before) + Self.key + " "
            let long = head + Self.key + " end"
            #expect(masker.cut(long, keepingFirst: head.count + 3) == head + "********", "\(before)")
        }
        // A clipped occurrence (`prefix…`) is one too.
        #expect(masker.cut("x sk-test-Q7vX2… y", keepingFirst: 8) == "x ********")
    }

    @Test func aCutKeepingTheEndLeavesNoPartOfASecret() {
        let masker = SecretMasker(secrets: [Self.key])
        let text = "head " + Self.key + " end"
        for kept in 1..<Self.key.count {
            #expect(masker.cut(text, keepingLast: 4 + kept) == "******** end", "\(kept)")
        }
        #expect(masker.cut(text, keepingLast: 4) == " end")
        #expect(masker.cut(text, keepingLast: 4 + Self.key.count) == Self.key + " end")
        #expect(masker.cut(text, keepingLast: 1_000) == text)
    }

    /// Overlapping secrets count as one where a cut goes through them: neither keeps its first characters.
    @Test func aCutThroughOverlappingSecretsLeavesNeither() {
        let masker = SecretMasker(secrets: ["WXYZ0123abcdefgh", "abcdefgh98765432"])
        let text = "a WXYZ0123abcdefgh98765432 b"
        for kept in 3..<(text.count - 2) {
            let cut = masker.cut(text, keepingFirst: kept)
            #expect(cut == "a ********", "\(kept): \(cut)")
            let end = masker.cut(text, keepingLast: kept)
            #expect(end == "******** b", "\(kept): \(end)")
        }
    }

    @Test func aCutThroughANonASCIISecretLeavesNoPartOfIt() {
        let secret = "clé-secrète-ünïcode-42"
        let masker = SecretMasker(secrets: [secret])
        for kept in 1..<secret.count {
            #expect(masker.cut("coupé " + secret + " ✓", keepingFirst: 6 + kept) == "coupé ********", "\(kept)")
        }
    }

    /// Text something else cut at its end: a secret's first six or more characters that end it are
    /// hidden, as `prefix…` is; fewer, a whole secret and a secret inside the text are left as they are.
    @Test func aSecretClippedAtTheEndOfTheTextIsMasked() {
        let masker = SecretMasker(secrets: [Self.key, "clé-secrète-ünïcode-42"])
        for kept in 6..<Self.key.count {
            #expect(masker.maskClippedEnd("out: " + Self.key.prefix(kept)) == "out: ********", "\(kept)")
        }
        for kept in 0..<6 {
            let text = "out: " + Self.key.prefix(kept)
            #expect(masker.maskClippedEnd(text) == text, "\(kept)")
        }
        #expect(masker.maskClippedEnd("out: " + Self.key) == "out: " + Self.key)
        #expect(masker.maskClippedEnd(Self.key + " and sk-te") == Self.key + " and sk-te")
        #expect(masker.maskClippedEnd(Self.key + " and sk-test") == Self.key + " and ********")
        #expect(masker.maskClippedEnd("sk-test-Q") == "********")
        #expect(masker.maskClippedEnd("é clé-secr") == "é ********")
        #expect(SecretMasker().maskClippedEnd("sk-test-Q") == "sk-test-Q")
    }

    /// What the masker knows: `[secrets]`, any secret-looking key at any depth (`${VAR}` expanded),
    /// the provider keys from the environment; not unresolved references nor ordinary settings.
    @Test func theConfigurationsSecretValuesAreCollected() throws {
        let toml = """
            [agent]
            default_model = "openai/gpt-4o-mini-long-name"

            [providers.openai]
            api_key = "${MY_OPENAI}"

            [providers.glm]
            api_key = "${UNSET_VARIABLE}"

            [secrets]
            WEATHER = "weather-secret-value"

            [service]
            auth_token = "service-token-value"

            """
        let configuration = try Configuration(
            toml: toml,
            environment: ["MY_OPENAI": "sk-from-environment-1", "ANTHROPIC_API_KEY": "sk-ant-from-environment"]
        )
        let values = Set(configuration.secretValues)
        #expect(values.contains("sk-from-environment-1"))
        #expect(values.contains("weather-secret-value"))
        #expect(values.contains("service-token-value"))
        #expect(values.contains("sk-ant-from-environment"))
        #expect(!values.contains { $0.contains("${") })
        #expect(!values.contains("openai/gpt-4o-mini-long-name"))
        let masker = SecretMasker(configuration: configuration)
        #expect(masker.mask("weather-secret-value and sk-ant-from-environment") == "******** and ********")
    }

    /// The log handler writes the message and the metadata masked, to the file and to standard error.
    @Test func theLogHandlerMasksMessageAndMetadata() throws {
        let (logger, path) = try Self.fileLogger(SecretMasker(secrets: [Self.key]))
        logger.info("the model wrote \(Self.key)", metadata: ["exec.command": "echo \(Self.key)", "n": "1"])
        logger.debug("clipped", metadata: ["error": "invalid key sk-test-Q7vX2…"])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains("Q7vX2"), "\(text)")
        #expect(text.contains("the model wrote ********"), "\(text)")
        #expect(text.contains("exec.command=echo ********"), "\(text)")
        #expect(text.contains("error=invalid key ********…"), "\(text)")
    }

    /// The audit log records details with the configured secrets masked (a sandboxed command's text).
    @Test func theAuditLogMasksDetails() throws {
        let path = TestSupport.makeTemporaryDirectory("lgpt-audit") + "/audit.jsonl"
        let log = AuditLog(path: path, durability: .noSync, secretMasker: SecretMasker(secrets: [Self.key]))
        try log.append(.permissionDenied, source: "test", details: ["command": .string("curl -H \(Self.key)")])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains("Q7vX2"), "\(text)")
        #expect(text.contains("curl -H ********"), "\(text)")
        #expect(try log.verify().isIntact)
    }
}
