//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Testing

@Suite struct HostFileOperationsTests {
    /// Reading a FIFO (`mkfifo notes.md` in the workspace, then `memory_get` or `read_file` on
    /// it) waited for a writer forever, deaf to Ctrl-C. It is refused at once. A writer opens it
    /// after 10 s, so that a regression fails this test instead of hanging the run.
    @Test func aFIFOIsRefusedWithoutWaiting() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-fifo")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fifo = dir + "/pipe.md"
        #expect(mkfifo(fifo, 0o600) == 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + 10) {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        let started = Date()
        #expect(throws: HostFilesError.self) { _ = try HostFileOperations.read(fifo, offset: 0, limit: 10) }
        #expect(Date().timeIntervalSince(started) < 5, "refused without waiting for a writer")
    }

    /// A plugin granted no file access is told so, not that the file lies outside its folders.
    @Test func aPluginWithoutAFileGrantIsToldSo() throws {
        let home = TestSupport.makeTemporaryDirectory("lgpt-nofs")
        let paths = LocalGPTPaths(home: home)
        try FileManager.default.createDirectory(atPath: paths.workspace, withIntermediateDirectories: true)
        let none = HostFilePolicy(paths: paths, permissions: PluginPermissions(), userHome: nil)
        let error = #expect(throws: HostFilesError.self) { _ = try none.resolve("a.txt", for: .read) }
        #expect(error?.message.contains("this plugin was granted no file read access (permissions.fs.read)") == true)
        let reader = HostFilePolicy(paths: paths, permissions: PluginPermissions(fsRead: ["$WORKSPACE"]), userHome: nil)
        let write = #expect(throws: HostFilesError.self) { _ = try reader.resolve("a.txt", for: .write) }
        #expect(write?.message.contains("no file write access (permissions.fs.write)") == true)
        #expect(throws: Never.self) { _ = try reader.resolve("a.txt", for: .read) }
    }

    /// `mkdir -p` that names what is in the way: a home under a file used to say "The operation
    /// could not be completed. (NSCocoaErrorDomain error 512.)".
    @Test func makeDirectoriesSaysWhatIsInTheWay() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-mkdir")
        #expect(makeDirectories(atPath: dir + "/a/b/c", mode: 0o700) == nil)
        var st = stat()
        #expect(stat(dir + "/a/b/c", &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(makeDirectories(atPath: dir + "/a/b", mode: 0o700) == nil)
        #expect(FileManager.default.createFile(atPath: dir + "/file", contents: Data()))
        #expect(makeDirectories(atPath: dir + "/file/h", mode: 0o700) == "\(dir)/file exists and is not a folder")
        #expect(symlink(dir + "/loop", dir + "/loop") == 0)
        #expect(
            makeDirectories(atPath: dir + "/loop/h", mode: 0o700)?.hasPrefix("\(dir)/loop is a symbolic link") == true
        )
        #expect(symlink(dir + "/nowhere", dir + "/dangling") == 0)
        #expect(
            makeDirectories(atPath: dir + "/dangling/h", mode: 0o700)
                == "\(dir)/dangling is a symbolic link that leads to no folder (its target does not exist)"
        )
        // mkdir's own reason otherwise (here sysfs refusing even root; likewise a read-only file
        // system or a full disk, which a test cannot make without mounting).
        #expect(makeDirectories(atPath: "/sys/lgpt-test/h", mode: 0o700) == "Operation not permitted")
    }

    /// The window of lines read, checked against the plain definition (every line start listed)
    /// on files with and without a final newline, empty lines, and windows past the end.
    @Test func readsTheWindowOfLinesAsDefined() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-read")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var state: UInt64 = 42
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        for round in 0..<300 {
            let bytes = (0..<next(40)).map { _ in next(3) == 0 ? UInt8(ascii: "\n") : UInt8(ascii: "a") + UInt8(next(3))
            }
            let path = dir + "/f\(round).md"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            let offset = next(14) - 2
            let limit = next(10) - 1
            // The definition: every line start, a final line without "\n" counting when non-empty.
            var starts = [0]
            for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") { starts.append(i + 1) }
            if starts.last == bytes.count { starts.removeLast() }
            let total = bytes.isEmpty ? 0 : starts.count
            let first = min(max(offset, 0), total)
            let last = min(first + max(limit, 0), total)
            let from = first < total ? starts[first] : bytes.count
            let to = last < total ? starts[last] : bytes.count
            let r = try HostFileOperations.read(path, offset: offset, limit: limit)
            let expected = String(decoding: bytes[from..<to], as: UTF8.self)
            #expect(r.content == expected, "\(bytes) \(offset) \(limit)")
            #expect(r.firstLine == first + 1 && r.lineCount == last - first && r.totalLines == total)
        }
    }
}
