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
}
