//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTAgent
import LocalGPTCore
import LocalGPTTesting
import Testing

@Suite struct SessionFileTests {
    static func sampleMessages() -> [ChatMessage] {
        var out: [ChatMessage] = []
        for i in 0..<12 {
            out.append(ChatMessage(role: .user, content: "question \(i) with ünïcode ✓ and \"quotes\"\nand lines"))
            if i % 3 == 0 {
                out.append(
                    ChatMessage(
                        role: .assistant,
                        content: "",
                        toolCalls: [ToolCall(id: "c\(i)", name: "read_file", arguments: ["path": .string("f\(i).md")])],
                        provider: "org.test.scripted",
                        model: "scripted/test",
                        usage: TokenUsage(input: 100, output: 20),
                        stopReason: "tool_use"
                    )
                )
                out.append(
                    ChatMessage(
                        role: .tool,
                        content: "<tool_output>\nresult \(i)\n</tool_output>",
                        toolCallID: "c\(i)",
                        toolName: "read_file"
                    )
                )
            }
            out.append(ChatMessage(role: .assistant, content: "answer \(i) " + String(repeating: "z", count: i * 37)))
        }
        return out
    }

    @Test func roundTripKeepsEveryField() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-session")
        let store = SessionStore(directory: dir)
        let session = try store.create(cwd: "/work")
        let messages = Self.sampleMessages()
        for m in messages { try session.append(m) }
        let contents = try SessionFile.read(path: store.path(for: session.id))
        #expect(contents.header?.id == session.id)
        #expect(contents.header?.cwd == "/work")
        #expect(contents.messages == messages)
        #expect(contents.skippedLines == 0 && contents.tornBytes == 0)
    }

    /// The write is done before `append` returns (only the flush runs in the background), so another
    /// reader, or a restart after the process is killed, sees every appended message at once.
    @Test func eachAppendIsInTheFileWhenItReturns() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-session")
        let store = SessionStore(directory: dir)
        let session = try store.create(cwd: "/w")
        let messages = Self.sampleMessages()
        for (i, m) in messages.enumerated() {
            try session.append(m)
            #expect(try SessionFile.read(path: store.path(for: session.id)).messages.count == i + 1)
        }
        try session.file?.waitUntilDurable()
        try session.file?.waitUntilDurable()
        #expect(try SessionFile.read(path: store.path(for: session.id)).messages == messages)
    }

    @Test func theFormatMatchesTheReference() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-session")
        let store = SessionStore(directory: dir)
        let session = try store.create(cwd: "/w")
        try session.append(ChatMessage(role: .user, content: "hi", timestamp: 1_700_000_000_000))
        try session.append(
            ChatMessage(
                role: .assistant,
                content: "",
                toolCalls: [ToolCall(id: "1", name: "bash", arguments: ["command": "ls"])],
                usage: TokenUsage(input: 3, output: 4),
                stopReason: "tool_use",
                timestamp: 1_700_000_000_001
            )
        )
        try session.append(ChatMessage(role: .tool, content: "out", toolCallID: "1", toolName: "bash", timestamp: 2))
        let lines = try String(contentsOfFile: store.path(for: session.id), encoding: .utf8).split(separator: "\n")
            .map { try JSONValue(parsing: String($0)) }
        #expect(lines[0]["type"] == "session")
        #expect(lines[0]["version"] == 1)
        #expect(lines[0]["id"]?.stringValue == session.id)
        #expect(lines[0]["timestamp"]?.stringValue?.hasSuffix("Z") == true)
        #expect(lines[0]["compactionCount"] == 0 && lines[0]["memoryFlushCompactionCount"] == 0)
        #expect(lines[1]["type"] == "message")
        #expect(lines[1]["message"]?["role"] == "user")
        #expect(lines[1]["message"]?["content"] == [["type": "text", "text": "hi"]])
        #expect(lines[1]["message"]?["timestamp"] == 1_700_000_000_000)
        let call = try #require(lines[2]["message"]?["toolCalls"]?[0])
        #expect(call["arguments"] == #"{"command":"ls"}"#)  // a JSON string, as the reference writes it
        #expect(lines[2]["message"]?["usage"]?["totalTokens"] == 7)
        #expect(lines[2]["message"]?["stopReason"] == "tool_use")
        #expect(lines[3]["message"]?["role"] == "toolResult")
        #expect(lines[3]["message"]?["toolCallId"] == "1")
        // The reader accepts the reference's variants: string content and role "tool".
        let variant = #"{"type":"message","message":{"role":"tool","content":"plain","toolCallId":"9"}}"#
        guard case .message(let m)? = SessionCodec.decode(variant) else {
            Issue.record("variant not decoded")
            return
        }
        #expect(m.role == .tool && m.content == "plain" && m.toolCallID == "9")
    }

    /// A crash can cut the file at any byte: every complete message survives, and appending afterwards
    /// starts on a clean line.
    @Test func aFileCutAtARandomByteKeepsEveryCompleteMessage() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-session")
        let store = SessionStore(directory: dir, durable: false)
        let session = try store.create(cwd: "/w")
        let messages = Self.sampleMessages()
        for m in messages { try session.append(m) }
        let path = store.path(for: session.id)
        let bytes = try #require(FileManager.default.contents(atPath: path))
        // Where each message line ends (after its newline).
        var lineEnds: [Int] = []
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") { lineEnds.append(i + 1) }
        var generator = SystemRandomNumberGenerator()
        var cuts = (0..<200).map { _ in Int.random(in: 0...bytes.count, using: &generator) }
        cuts += lineEnds + lineEnds.map { $0 - 1 } + [0, 1, bytes.count]
        for cut in cuts {
            let copyID = SessionStore.newID()
            let copy = store.path(for: copyID)
            try Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: copy))
            // Complete lines: header + messages whose newline is within the cut (or that end exactly at it).
            let completeLines = lineEnds.filter { $0 <= cut }.count + (lineEnds.contains(cut + 1) ? 1 : 0)
            let expected = max(0, completeLines - 1)
            let contents = try SessionFile.read(path: copy)
            #expect(contents.messages.count == expected, "cut at \(cut)")
            #expect(Array(contents.messages) == Array(messages.prefix(expected)), "cut at \(cut)")
            // Reopen, append, reread: nothing lost, nothing garbled.
            let reopened = try store.open(id: copyID)
            try reopened.append(ChatMessage(role: .user, content: "after the crash"))
            let again = try SessionFile.read(path: copy)
            #expect(again.messages.count == expected + 1, "cut at \(cut)")
            #expect(again.messages.last?.content == "after the crash")
            #expect(again.skippedLines == 0 && again.tornBytes == 0, "cut at \(cut)")
            try FileManager.default.removeItem(atPath: copy)
        }
    }

    /// A damaged file (a line edited into garbage, a cut-off end, random bytes) is reported, and what
    /// could not be read is kept: in the file while it is only appended to, in a copy before the file is
    /// cut or rewritten.
    @Test func aDamagedFileIsReportedAndNothingIsLost() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-session")
        let store = SessionStore(directory: dir, durable: false)
        let session = try store.create(cwd: "/w")
        for i in 0..<4 { try session.append(ChatMessage(role: .user, content: "message \(i)")) }
        let path = store.path(for: session.id)
        let good = try String(contentsOfFile: path, encoding: .utf8)
        func copies() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".damaged-") }
        }

        // A garbled middle line: left out, reported, still in the file after appends.
        var lines = good.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[2] = "{\"messa GARBAGE"
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try SessionFile.read(path: path).damage == "1 line that could not be read")
        #expect(store.list().first?.damage == "1 line that could not be read")
        try session.file?.close()
        var opened = try store.open(id: session.id)
        #expect(opened.messages.count == 3)
        let notice = try #require(opened.file?.damageNotice)
        #expect(
            notice.contains("is damaged: 1 line that could not be read") && notice.contains("the file itself keeps")
        )
        try opened.append(ChatMessage(role: .user, content: "later"))
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("GARBAGE"))
        #expect(copies().isEmpty)
        // A compaction would drop it: the file goes aside first.
        try opened.replaceMessages([ChatMessage(role: .user, content: "kept")], header: opened.header, record: nil)
        #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("GARBAGE"))
        let aside = try #require(copies().first)
        #expect(try String(contentsOfFile: dir + "/" + aside, encoding: .utf8).contains("GARBAGE"))
        #expect(opened.file?.keptCopy == dir + "/" + aside)

        // Random bytes: nothing to read, the file kept as it was before the cut.
        let noise = (0..<500).map { _ in UInt8.random(in: 1...255) }.filter { $0 != UInt8(ascii: "\n") }
        try Data(noise).write(to: URL(fileURLWithPath: path))
        try opened.file?.close()
        opened = try store.open(id: session.id)
        #expect(opened.messages.isEmpty)
        let kept = try #require(opened.file?.keptCopy)
        #expect(try #require(FileManager.default.contents(atPath: kept)) == Data(noise))
        #expect(opened.file?.damageNotice?.contains("of a cut-off last line and no session header") == true)
        #expect(opened.file?.damageNotice?.contains("kept in \(kept)") == true)
        var info = stat()
        #expect(stat(kept, &info) == 0 && info.st_mode & 0o777 == 0o600)
        // A whole file reports nothing.
        let clean = try store.create(cwd: "/")
        try clean.append(ChatMessage(role: .user, content: "fine"))
        try clean.file?.close()
        #expect(try store.open(id: clean.id).file?.damageNotice == nil)
    }

    /// One writer per session: a second open (here, in the same process; another process gets the
    /// holder's pid) is refused before it reads or cuts anything, the lock file names the holder,
    /// and closing lets the session go and removes the lock file.
    @Test func aSessionHasOneWriter() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-session")
        let store = SessionStore(directory: dir, durable: false)
        let session = try store.create(cwd: "/w")
        try session.append(ChatMessage(role: .user, content: "first"))
        let path = store.path(for: session.id)
        #expect(try String(contentsOfFile: path + ".lock", encoding: .utf8) == "\(getpid())\n")
        do {
            _ = try store.open(id: session.id)
            Issue.record("a second writer opened the session")
        } catch {
            #expect(error.code == .locked)
            #expect(error.message == "session \(session.id.prefix(8)) is already open in this process; close it first")
        }
        // A line being written by the holder (here, its first bytes) looks torn to a reader: a second
        // opener used to cut it off, taking the holder's message with it.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"message":{"content":[{"text":"in fli"#.utf8))
        try handle.close()
        let before = try #require(FileManager.default.contents(atPath: path))
        #expect(throws: SessionError.self) { try store.open(id: session.id) }
        #expect(FileManager.default.contents(atPath: path) == before)
        #expect(
            !((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).contains { $0.contains(".damaged-") }
        )

        try session.file?.close()
        #expect(!FileManager.default.fileExists(atPath: path + ".lock"))
        #expect(throws: SessionError.self) { try session.append(ChatMessage(role: .user, content: "closed")) }
        let reopened = try store.open(id: session.id)
        #expect(reopened.messages.map(\.content) == ["first"])
        #expect(reopened.file?.keptCopy != nil)  // the torn end goes aside before the cut
        try reopened.file?.close()
        // A missing session leaves no lock file behind.
        #expect(throws: SessionError.self) { try store.open(id: SessionStore.newID()) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.hasSuffix(".lock") })
    }

    /// Closing with `removingIfEmpty` removes a file that holds only its header (a chat left without a
    /// message) and keeps one with a message; closing twice does nothing more.
    @Test func closingRemovesAHeaderOnlyFileAndKeepsTheRest() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-session")
        let store = SessionStore(directory: dir, durable: false)
        let empty = try store.create(cwd: "/w")
        try empty.file?.close(removingIfEmpty: true)
        #expect(!FileManager.default.fileExists(atPath: store.path(for: empty.id)))
        let full = try store.create(cwd: "/w")
        try full.append(ChatMessage(role: .user, content: "keep me"))
        try full.file?.close(removingIfEmpty: true)
        try full.file?.close(removingIfEmpty: true)  // twice: nothing more
        #expect(try SessionFile.read(path: store.path(for: full.id)).messages.count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.hasSuffix(".lock") })
    }

    @Test func listingResolvingAndTheIndex() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-session")
        let store = SessionStore(directory: dir)
        let a = try store.create(cwd: "/")
        try a.append(ChatMessage(role: .user, content: "first session question"))
        Thread.sleep(forTimeInterval: 0.02)
        let b = try store.create(cwd: "/")
        try b.append(ChatMessage(role: .user, content: "second"))
        try b.append(ChatMessage(role: .assistant, content: String(repeating: "long answer ", count: 20)))
        try "not a session".write(toFile: dir + "/short.jsonl", atomically: true, encoding: .utf8)
        let list = store.list()
        #expect(list.map(\.id) == [b.id, a.id])
        #expect(list[0].messageCount == 2)
        #expect(list[0].lastPreview.hasSuffix("…") && list[0].lastPreview.count == 58)
        #expect(try store.resolve(prefix: String(a.id.prefix(8)).uppercased()) == a.id)
        #expect(throws: SessionError.self) { try store.resolve(prefix: "zzzz") }
        #expect(throws: SessionError.self) { try store.resolve(prefix: "") }
        store.updateIndex(a)
        #expect(store.latestID() == a.id)
        var info = stat()
        #expect(stat(store.indexFile, &info) == 0 && info.st_mode & 0o777 == 0o600)
    }

    @Test func compactionRewriteIsAtomicAndRecorded() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-session")
        let store = SessionStore(directory: dir)
        let session = try store.create(cwd: "/")
        for m in Self.sampleMessages() { try session.append(m) }
        var header = session.header
        header.compactionCount = 1
        let record = CompactionRecord(
            timestamp: 5,
            reason: "manual",
            messagesBefore: 40,
            messagesAfter: 2,
            tokensBefore: 900,
            tokensAfter: 100,
            flushed: true,
            checkpoint: "memory/x.md"
        )
        try session.replaceMessages(
            [
                ChatMessage(role: .system, content: "Previous conversation summary:\n\nS"),
                ChatMessage(role: .user, content: "u"),
            ],
            header: header,
            record: record
        )
        try session.append(ChatMessage(role: .assistant, content: "a"))
        let contents = try SessionFile.read(path: store.path(for: session.id))
        #expect(contents.header?.compactionCount == 1)
        #expect(contents.compactions == [record])
        #expect(contents.messages.map(\.content) == ["Previous conversation summary:\n\nS", "u", "a"])
        var info = stat()
        #expect(stat(store.path(for: session.id), &info) == 0 && info.st_mode & 0o777 == 0o600)
    }
}
