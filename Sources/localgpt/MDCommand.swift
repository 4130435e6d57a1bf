//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import Glibc
import LocalGPTCore
import Logging

struct MDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "md",
        abstract: "Sign and verify LocalGPT.md (your standing instructions) and read the security audit log.",
        discussion: """
            LocalGPT.md in the workspace holds instructions the assistant follows in every session. It is
            used only while its signature (.localgpt_manifest.json, an HMAC-SHA256 by this device's key)
            matches: sign it after every edit you make.
            """,
        subcommands: [Sign.self, Verify.self, Status.self, Audit.self, AuditAppend.self, Bench.self]
    )

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sign", abstract: "Sign LocalGPT.md as it is now.")
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let context = try CLIContext.make(options)
            let paths = context.paths
            let key: DeviceKey
            do {
                let (k, created) = try DeviceKey.loadOrCreate(at: paths.deviceKey)
                key = k
                if created { print("Created the device key \(paths.deviceKey)") }
            } catch {
                throw CLIError(error.message)
            }
            // A command of a LocalGPT process killed mid-run may have changed the policy: put it back
            // (and say so) before signing, so that what is signed is the user's text.
            context.recoverProtectedFiles()
            let signed: SignedPolicy
            do {
                signed = try PolicySigner(paths: paths).sign(with: key, signedBy: "cli")
            } catch {
                throw CLIError(error.message)
            }
            context.report(signed.recovery)
            let m = signed.manifest
            appendAudit(
                AuditLog(paths: paths),
                .signed,
                sha256: m.contentSHA256,
                details: [
                    "bytes": .int(Int64(signed.byteCount)), "characters": .int(Int64(signed.characterCount)),
                    "signed_by": .string(m.signedBy),
                ]
            )
            print("Signed LocalGPT.md (sha256: \(m.contentSHA256.prefix(16)) | hmac: \(m.hmacSHA256.prefix(16)))")
            if signed.isOversize {
                print(
                    "Note: LocalGPT.md is \(signed.characterCount) characters; only the first "
                        + "\(PolicyVerifier.maxCharacters) are used."
                )
            }
            for match in signed.suspiciousMatches {
                printError(
                    "Warning: line \(match.line) contains \"\(match.excerpt)\" (\(match.phrase)), a prompt-injection "
                        + "phrase: LocalGPT.md will be rejected at every session start until you rephrase it and sign "
                        + "again."
                )
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check LocalGPT.md against its signature, as every session start does.",
            discussion: "Exits 0 when the policy is verified (and would be used), 1 otherwise."
        )
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let context = try CLIContext.make(options)
            var logger = context.logger
            logger.logLevel = options.verbose ? .debug : .error  // the outcome is printed below
            let loader = PolicyLoader(
                verifier: PolicyVerifier(paths: context.paths),
                isStrict: false,
                audit: context.auditLog,
                source: "cli",
                logger: logger
            )
            let result: PolicyVerification
            do {
                result = try loader.load()
            } catch {
                throw CLIError(error.message)
            }
            var line = "Policy: \(result.label)"
            if let policy = result.policy { line += " (\(policy.characterCount) characters)" }
            print(line)
            print(result.explanation)
            if let policy = result.policy, policy.filteredMarkers > 0 {
                print("\(policy.filteredMarkers) model-control marker(s) are replaced by [FILTERED] when it is used.")
            }
            if !result.isInjectable { throw ExitCode(1) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show the policy, its signature, the device key, the audit log and the protected files."
        )
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let context = try CLIContext.make(options)
            let paths = context.paths
            let result = PolicyVerifier(paths: paths).verify()
            func row(_ name: String, _ value: String) {
                print((name + ":").padding(toLength: 15, withPad: " ", startingAt: 0) + value)
            }
            switch result.status {
            case .missing: row("LocalGPT.md", "missing (\(paths.policyFile))")
            default: row("LocalGPT.md", "\(paths.policyFile) (\(result.byteCount ?? 0) bytes)")
            }
            var signature = result.label
            if let m = result.manifest { signature += " (signed \(m.signedAt) by \(m.signedBy))" }
            row("Signature", signature)
            if result.status != .missing && result.status != .valid { row("", result.explanation) }
            do {
                _ = try DeviceKey.load(from: paths.deviceKey)
                row("Device key", "present (\(paths.deviceKey), mode 0600)")
            } catch  where error.code == .deviceKeyMissing {
                row("Device key", "missing (`localgpt init` or `localgpt md sign` creates it)")
            } catch {
                row("Device key", "INVALID: \(error.message)")
            }
            do {
                let report = try AuditLog(paths: paths).read()
                let chain =
                    report.isIntact
                    ? "chain INTACT"
                    : "chain BROKEN at line " + report.brokenLinks.map { String($0.line) }.joined(separator: ", ")
                row("Audit log", "\(report.entryCount) entries, \(chain) (\(paths.auditLog))")
            } catch {
                row("Audit log", "unreadable: \(error.message)")
            }
            row(
                "Strict policy",
                context.configuration.strictPolicyIsMistyped
                    ? "on (security.strict_policy is not true or false; read as true)"
                    : context.configuration.strictPolicy ? "on (tamper stops the agent)" : "off"
            )
            let protected = ProtectedPaths(paths: paths).files
            row("Protected", "\(protected.count) files the assistant's tools cannot write:")
            for f in protected { print(String(repeating: " ", count: 15) + f.path) }
        }
    }

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Print the security audit log and verify its hash chain.",
            discussion: "Exits 1 when the chain is broken; every broken link is named by its line number."
        )
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "Show only entries with this action (e.g. tamper_detected). The chain is always checked whole.")
        var filter: String?

        func run() throws {
            let context = try CLIContext.make(options)
            let report: AuditReport
            do {
                report = try AuditLog(paths: context.paths).read()
            } catch {
                throw CLIError(error.message)
            }
            let broken = Dictionary(report.brokenLinks.map { ($0.line, $0.reason) }) { a, _ in a }
            let recovered = Set(report.recoveredLines)
            let shown = report.lines.filter { line in
                guard let filter else { return true }
                return line.entry?.action.rawValue == filter
            }
            if json {
                printJSON(report, shown: shown, broken: broken, recovered: recovered)
            } else {
                printText(report, shown: shown, broken: broken, recovered: recovered)
            }
            if !report.isIntact { throw ExitCode(1) }
        }

        private func printText(
            _ report: AuditReport,
            shown: [AuditReport.Line],
            broken: [Int: String],
            recovered: Set<Int>
        ) {
            if report.lines.isEmpty { print("The audit log is empty (\(LocalGPTPaths.fromEnvironment().auditLog)).") }
            let width = String(report.lines.count).count
            for line in shown {
                let number = String(repeating: " ", count: width - String(line.number).count) + String(line.number)
                var text: String
                if let e = line.entry {
                    text = "\(e.timestamp)  \(e.action)  (source: \(e.source)"
                    if let sha = e.contentSHA256 { text += ", sha256: \(sha.prefix(16))" }
                    text += ")"
                    let details = e.details.keys.sorted().map { "\($0)=\(Self.show(e.details[$0] ?? .null))" }
                    if !details.isEmpty { text += "  " + details.joined(separator: " ") }
                } else {
                    text = "<not an audit entry: \(line.raw.prefix(60))\(line.raw.count > 60 ? "…" : "")>"
                }
                if let reason = broken[line.number] {
                    text += "  [CHAIN BROKEN: \(reason)]"
                } else if recovered.contains(line.number) {
                    text += "  [damaged; recovered by a later chain_recovery]"
                }
                print("\(number)  \(text)")
            }
            if report.isIntact {
                print("Chain integrity: INTACT (\(report.entryCount) entries)")
            } else {
                print(
                    "Chain integrity: BROKEN at line "
                        + report.brokenLinks.map { String($0.line) }.joined(separator: ", ")
                )
            }
        }

        private func printJSON(
            _ report: AuditReport,
            shown: [AuditReport.Line],
            broken: [Int: String],
            recovered: Set<Int>
        ) {
            let entries: [JSONValue] = shown.map { line in
                var o: [String: JSONValue] = ["line": .int(Int64(line.number))]
                if let e = line.entry {
                    o["ts"] = .string(e.timestamp)
                    o["action"] = .string(e.action.rawValue)
                    o["source"] = .string(e.source)
                    o["sha256"] = e.contentSHA256.map(JSONValue.string) ?? .null
                    o["details"] = .object(e.details)
                    o["prev_hash"] = .string(e.previousHash)
                } else {
                    o["raw"] = .string(line.raw)
                }
                o["status"] =
                    broken[line.number] != nil ? "broken" : (recovered.contains(line.number) ? "recovered" : "ok")
                return .object(o)
            }
            let doc: JSONValue = [
                "entries": .array(entries),
                "chain": [
                    "intact": .bool(report.isIntact),
                    "broken": .array(
                        report.brokenLinks.map { ["line": .int(Int64($0.line)), "reason": .string($0.reason)] }
                    ),
                    "recovered": .array(report.recoveredLines.map { .int(Int64($0)) }),
                    "entries": .int(Int64(report.entryCount)),
                    "lines": .int(Int64(report.lines.count)),
                ],
            ]
            print(doc.encoded(pretty: true))
        }

        static func show(_ value: JSONValue) -> String {
            if case .string(let s) = value, !s.isEmpty, !s.contains(where: { $0 == " " || $0 == "\"" }) { return s }
            return value.encoded()
        }
    }

    /// Hidden: appends test entries (used by the multi-process chain test).
    struct AuditAppend: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit-append",
            abstract: "Append test entries to the audit log (for tests).",
            shouldDisplay: false
        )
        @Option(help: "How many entries.") var count = 1
        @Option(help: "The action.") var action = "test"
        @Flag(help: "Skip fsync.") var noFsync = false

        func run() throws {
            let log = AuditLog(paths: LocalGPTPaths.fromEnvironment(), durability: noFsync ? .noSync : .fsync)
            let pid = Int64(getpid())
            for i in 0..<count {
                do {
                    try log.append(
                        AuditAction(rawValue: action),
                        source: "cli",
                        details: ["n": .int(Int64(i)), "pid": .int(pid)]
                    )
                } catch {
                    throw CLIError(error.message)
                }
            }
        }
    }
}

/// Appends to the audit log; a failure is a warning on stderr, never the command's failure.
func appendAudit(
    _ log: AuditLog,
    _ action: AuditAction,
    source: String = "cli",
    sha256: String? = nil,
    details: [String: JSONValue] = [:]
) {
    do {
        try log.append(action, source: source, contentSHA256: sha256, details: details)
    } catch {
        printError("Warning: the audit log was not written: \(error.message)")
    }
}

extension MDCommand {
    /// Hidden: times verification at agent start and audit appends in a scratch home.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Time policy verification and audit appends in a scratch home (for docs/PERFORMANCE.md).",
            shouldDisplay: false
        )
        @Option(help: "Iterations per measurement.") var iterations = 2000
        @Option(help: "Iterations for the fsync measurements.") var fsyncIterations = 300
        @Option(help: "Policy size in bytes.") var policyBytes = 4096

        func run() throws {
            let home = try makeScratchDirectory("lgpt-md-bench")
            defer { try? FileManager.default.removeItem(atPath: home) }
            let paths = LocalGPTPaths(home: home)
            try paths.createDirectories()
            try Data(Self.policy(bytes: policyBytes).utf8).write(to: URL(fileURLWithPath: paths.policyFile))
            let key = try DeviceKey.loadOrCreate(at: paths.deviceKey).key
            _ = try PolicySigner(paths: paths).sign(with: key)
            let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })

            print("localgpt md bench: \(policyBytes)-byte LocalGPT.md, scratch home \(home)")
            print(
                "measurement".padding(toLength: 44, withPad: " ", startingAt: 0)
                    + "     n     median        p90       mean   CPU/op (user+sys)"
            )
            let verifier = PolicyVerifier(paths: paths)
            guard verifier.verify().isInjectable else { throw CLIError("the scratch policy did not verify") }
            report("verify LocalGPT.md (no audit entry)", iterations) { _ = verifier.verify() }
            for (name, durability, n) in [
                ("agent start: verify + audit entry, no fsync", AuditLog.Durability.noSync, iterations),
                ("agent start: verify + audit entry, fsync", .fsync, fsyncIterations),
            ] {
                let loader = PolicyLoader(
                    verifier: verifier,
                    isStrict: false,
                    audit: AuditLog(path: home + "/start-\(n).jsonl", durability: durability),
                    source: "session_start",
                    logger: logger
                )
                report(name, n) { _ = try? loader.load() }
            }
            for (name, durability, n) in [
                ("audit append, no fsync", AuditLog.Durability.noSync, iterations),
                ("audit append, fsync", .fsync, fsyncIterations),
            ] {
                let log = AuditLog(path: home + "/append-\(n).jsonl", durability: durability)
                report(name, n) {
                    _ = try? log.append(.permissionDenied, source: "org.example.bench", details: ["service": "exec"])
                }
                if let r = try? log.read(), !r.isIntact { throw CLIError("the benchmark chain is broken") }
            }
        }

        private func report(_ name: String, _ n: Int, _ body: () throws -> Void) rethrows {
            for _ in 0..<min(50, n) { try body() }  // warm-up
            var samples: [Double] = []
            samples.reserveCapacity(n)
            let clock = ContinuousClock()
            let cpuBefore = Self.cpuMicroseconds()
            for _ in 0..<n {
                let start = clock.now
                try body()
                let d = clock.now - start
                samples.append(Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12)
            }
            let cpu = (Self.cpuMicroseconds() - cpuBefore) / Double(n)
            samples.sort()
            func us(_ v: Double) -> String {
                let s = String(format: "%.1f µs", v)
                return String(repeating: " ", count: max(1, 11 - s.count)) + s
            }
            let median = samples[samples.count / 2]
            let p90 = samples[min(samples.count - 1, samples.count * 9 / 10)]
            let mean = samples.reduce(0, +) / Double(samples.count)
            let count = String(n)
            print(
                name.padding(toLength: 44, withPad: " ", startingAt: 0)
                    + String(repeating: " ", count: max(0, 6 - count.count)) + count + us(median) + us(p90) + us(mean)
                    + us(cpu)
            )
        }

        /// This process's user + system CPU time so far, in microseconds.
        private static func cpuMicroseconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            func us(_ t: timeval) -> Double { Double(t.tv_sec) * 1e6 + Double(t.tv_usec) }
            return us(usage.ru_utime) + us(usage.ru_stime)
        }

        /// A realistic standing-instructions file of about `bytes` bytes.
        static func policy(bytes: Int) -> String {
            var text = "# Standing instructions\n\n## Conventions\n\n"
            let rules = [
                "- Use four spaces for indentation and keep lines under 120 columns.",
                "- Write tests for every bug fix; a test must fail before the fix.",
                "- Prefer small, reviewable changes with a clear commit message.",
                "- Ask before deleting files outside the workspace.",
                "- Never print secrets, tokens or keys in answers or logs.",
                "- Summarise long command output instead of pasting it.",
            ]
            var i = 0
            while text.utf8.count < bytes - 80 {
                text += rules[i % rules.count] + "\n"
                i += 1
            }
            text += "\n## Reminders\n\n- Keep answers short.\n"
            return text
        }
    }
}
