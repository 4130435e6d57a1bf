//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Logging
import Testing

/// The hash-chained audit log: format, chain, verification, recovery, concurrency.
@Suite struct AuditLogTests {
    let home: SecurityHome
    let log: AuditLog

    init() throws {
        home = try SecurityHome()
        log = home.audit
    }

    private func appendN(_ n: Int) throws {
        for i in 0..<n { try log.append(.verified, source: "session_start", details: ["n": .int(Int64(i))]) }
    }

    private func rawLines() throws -> [String] {
        try String(contentsOfFile: log.path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    private func writeRaw(_ lines: [String], trailingNewline: Bool = true) throws {
        try (lines.joined(separator: "\n") + (trailingNewline ? "\n" : "")).write(
            toFile: log.path,
            atomically: false,
            encoding: .utf8
        )
    }

    @Test func lineFormatAndGenesis() throws {
        let entry = try log.append(
            .signed,
            source: "cli",
            contentSHA256: String(repeating: "ab", count: 32),
            details: ["bytes": 120, "signed_by": "cli"]
        )
        let lines = try rawLines()
        #expect(lines.count == 1)
        #expect(lines[0] == entry.line)
        #expect(lines[0].hasPrefix("{\"ts\":\""))
        #expect(
            lines[0].hasSuffix(
                "\"action\":\"signed\",\"source\":\"cli\",\"sha256\":\"\(String(repeating: "ab", count: 32))\","
                    + "\"details\":{\"bytes\":120,\"signed_by\":\"cli\"},\"prev_hash\":\"\(String(repeating: "0", count: 64))\"}"
            )
        )
        let doc = try JSONValue(parsing: lines[0])
        #expect(doc["ts"]?.stringValue?.count == 24)  // 2026-05-02T10:11:12.345Z
        #expect(entry.previousHash == String(repeating: "0", count: 64))
        #expect(fileMode(log.path) == 0o600)
    }

    @Test func eachLineChainsToTheExactBytesOfThePreviousOne() throws {
        try appendN(5)
        let lines = try rawLines()
        let entries = try log.read().lines.compactMap(\.entry)
        #expect(entries.count == 5)
        for i in 1..<5 {
            #expect(entries[i].previousHash == sha256(Array(lines[i - 1].utf8)))
        }
        let report = try log.verify()
        #expect(report.isIntact)
        #expect(report.entryCount == 5)
    }

    @Test func alteredMiddleLineIsReportedAtItsIndex() throws {
        try appendN(10)
        #expect(try log.verify().isIntact)
        var lines = try rawLines()
        lines[4] = lines[4].replacingOccurrences(of: "\"verified\"", with: "\"signed\"")  // line 5, still valid JSON
        try writeRaw(lines)
        let report = try log.verify()
        #expect(!report.isIntact)
        #expect(report.brokenLinks.map(\.line) == [5])
        #expect(report.brokenLinks[0].reason.contains("prev_hash recorded in line 6"))
    }

    @Test func lineMadeInvalidAndALineRemovedAreEachReported() throws {
        try appendN(10)
        var lines = try rawLines()
        lines[2] = "garbage"  // line 3
        lines.remove(at: 7)  // old line 8: now line 7 no longer chains to line 7's predecessor
        try writeRaw(lines)
        let report = try log.verify()
        #expect(report.brokenLinks.map(\.line) == [3, 7])
        #expect(report.brokenLinks[0].reason.contains("not a valid audit entry"))
    }

    @Test func firstLineMustStartFromGenesis() throws {
        try appendN(3)
        var lines = try rawLines()
        lines.removeFirst()
        try writeRaw(lines)
        #expect(try log.verify().brokenLinks.map(\.line) == [1])
    }

    @Test func tornLastLineIsRecoveredOnTheNextAppend() throws {
        try appendN(3)
        let intact = try rawLines()
        // A crash in the middle of a write: half a line, no newline.
        try writeRaw(intact + ["{\"ts\":\"2026-05-02T10:1"], trailingNewline: false)
        let before = try log.verify()
        #expect(before.brokenLinks.map(\.line) == [4])
        #expect(before.brokenLinks[0].reason.contains("torn write"))

        try log.append(.verified, source: "session_start")
        let lines = try rawLines()
        #expect(lines.count == 6)
        #expect(lines[3] == "{\"ts\":\"2026-05-02T10:1")
        let recovery = try #require(AuditEntry(line: Array(lines[4].utf8)))
        #expect(recovery.action == .chainRecovery)
        #expect(recovery.source == "audit_system")
        #expect(recovery.previousHash == sha256(Array(intact[2].utf8)))  // chains from the last intact line
        #expect(recovery.details["damaged_lines"] == [4])
        #expect(recovery.details["resumes_after_line"] == 3)
        let next = try #require(AuditEntry(line: Array(lines[5].utf8)))
        #expect(next.previousHash == sha256(Array(lines[4].utf8)))

        let after = try log.verify()
        #expect(after.isIntact)
        #expect(after.recoveredLines == [4])
        #expect(after.entryCount == 5)
    }

    @Test func invalidLastLineWithNewlineIsRecoveredToo() throws {
        try appendN(2)
        try writeRaw(try rawLines() + ["not json at all"])
        try log.append(.verified, source: "session_start")
        let report = try log.verify()
        #expect(report.isIntact)
        #expect(report.recoveredLines == [3])
        #expect(report.lines[3].entry?.details["reason"] == "the last line is not a valid audit entry")
    }

    @Test func lastLineWithTheRightShapeButInvalidJSONIsRecovered() throws {
        try appendN(2)
        var lines = try rawLines()
        lines[1] = lines[1].replacingOccurrences(of: "\"details\":{", with: "\"details\":{,")
        try writeRaw(lines)
        try log.append(.verified, source: "session_start")
        let report = try log.verify()
        #expect(report.isIntact)
        #expect(report.recoveredLines == [2])
        #expect(report.lines[2].entry?.action == .chainRecovery)
        #expect(report.lines[2].entry?.previousHash == sha256(Array(lines[0].utf8)))
    }

    @Test func validEntryInAnotherKeyOrderIsChainedTo() throws {
        try appendN(1)
        let first = try rawLines()[0]
        let other =
            "{\"prev_hash\":\"\(sha256(Array(first.utf8)))\",\"action\":\"verified\",\"source\":\"x\","
            + "\"ts\":\"2026-01-01T00:00:00.000Z\"}"
        try writeRaw([first, other])
        try log.append(.verified, source: "session_start")
        let report = try log.verify()
        #expect(report.isIntact)
        #expect(report.lines.count == 3)
        #expect(report.lines[2].entry?.previousHash == sha256(Array(other.utf8)))
    }

    @Test func wholeFileOfGarbageRecoversFromGenesis() throws {
        try writeRaw(["junk"], trailingNewline: false)
        try log.append(.verified, source: "session_start")
        let report = try log.verify()
        #expect(report.isIntact)
        #expect(report.lines[1].entry?.previousHash == String(repeating: "0", count: 64))
        #expect(report.lines[1].entry?.details["resumes_after_line"] == 0)
    }

    @Test func lastLineWithoutNewlineButValidIsKept() throws {
        try appendN(2)
        let lines = try rawLines()
        try writeRaw(lines, trailingNewline: false)
        try log.append(.verified, source: "session_start")
        let report = try log.verify()
        #expect(report.isIntact)
        #expect(report.lines.count == 4)
        #expect(report.lines[2].entry?.action == .chainRecovery)
        #expect(report.lines[2].entry?.details["damaged_lines"] == [])
    }

    @Test func missingLogIsEmptyAndIntact() throws {
        let report = try log.verify()
        #expect(report.isIntact)
        #expect(report.lines.isEmpty)
    }

    @Test func concurrentAppendsFromManyThreadsKeepOneChain() async throws {
        let path = log.path
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    // A separate instance per task: separate descriptors, like separate processes.
                    let mine = AuditLog(path: path, durability: .noSync)
                    for i in 0..<100 {
                        _ = try? mine.append(.sandboxExec, source: "t\(t)", details: ["n": .int(Int64(i))])
                    }
                }
            }
        }
        let report = try log.verify()
        #expect(report.isIntact)
        #expect(report.entryCount == 800)
    }

    @Test func recorderWritesHostSecurityEvents() throws {
        let recorder = AuditRecorder(log: log, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        recorder.record(
            SecurityEvent(
                action: "permission_denied",
                source: "org.example.x",
                details: ["service": "exec", "requested": "rm"]
            )
        )
        recorder.record(SecurityEvent(action: "sandbox_exec", source: "org.example.x", details: ["exit_code": 0]))
        let entries = try log.read().lines.compactMap(\.entry)
        #expect(entries.map(\.action) == [.permissionDenied, .sandboxExec])
        #expect(entries[0].source == "org.example.x")
        #expect(entries[0].details == ["service": "exec", "requested": "rm"])
        #expect(try log.verify().isIntact)
    }

    @Test func recorderNeverThrowsWhenTheLogCannotBeWritten() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-ro")
        let bad = AuditLog(path: dir + "/a-folder", durability: .noSync)
        try FileManager.default.createDirectory(atPath: dir + "/a-folder", withIntermediateDirectories: true)
        AuditRecorder(log: bad, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
            .record(SecurityEvent(action: "x", source: "y"))
        #expect(throws: SecurityError.self) { try bad.append("x", source: "y") }
    }
}
