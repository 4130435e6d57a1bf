//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTMemory
import LocalGPTTesting
import Testing

@Suite struct CrashTests {
    /// `localgpt memory reindex --force` is killed with SIGKILL at several points of its run; each
    /// time the index must open, answer, and hold either the previous content or the new one,
    /// never a mix; a last reindex then completes.
    @Test(.timeLimit(.minutes(2))) func killDuringReindexLeavesAUsableIndex() throws {
        let home = TestSupport.makeTemporaryDirectory("lgpt-crash")
        let workspace = home + "/ws"
        let files = 250
        func writeAll(marker: String) throws {
            for i in 0..<files {
                var text = "# Day \(i)\n\n"
                for j in 0..<40 {
                    text += "- \(marker)\(i) entry \(j): notes about errands, meetings and ideas \(j * i)\n"
                }
                let dir = workspace + "/memory/\(i % 10)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try text.write(toFile: dir + "/day\(i).md", atomically: false, encoding: .utf8)
            }
        }
        let config = MemoryConfiguration(
            paths: LocalGPTPaths(home: home),
            configuration: Configuration(),
            workspaceOverride: workspace
        )
        func count(_ word: String) throws -> Int {
            let memory = try MemoryManager(configuration: config, embedder: nil)
            return try memory.search(word, mode: .keyword, refresh: false).results.count
        }
        func reindex() throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: TestSupport.localgptExecutable)
            p.arguments = ["memory", "reindex", "--force", "--workspace", workspace]
            p.environment = [
                "LOCALGPT_HOME": home, "HOME": home, "PATH": "/usr/bin:/bin", "LOCALGPT_MODELS_DIR": home + "/none",
            ]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }

        try writeAll(marker: "alpha")
        let memory = try MemoryManager(configuration: config, embedder: nil)
        try memory.reindex()
        let indexedFiles = try memory.index.stats().files
        #expect(indexedFiles == files + 4)  // and MEMORY.md, HEARTBEAT.md, SOUL.md, LocalGPT.md

        // How long a whole forced reindex takes here.
        try writeAll(marker: "bravo")
        let t0 = Date()
        let timing = try reindex()
        timing.waitUntilExit()
        let full = Date().timeIntervalSince(t0)
        #expect(timing.terminationStatus == 0)
        #expect(try count("bravo5") > 0)

        var indexed = "bravo"
        var killedWhileRunning = 0
        for fraction in [0.4, 0.7, 0.9] {
            let onDisk = indexed == "bravo" ? "alpha" : "bravo"
            try writeAll(marker: onDisk)
            let p = try reindex()
            usleep(useconds_t(full * fraction * 1_000_000))
            if p.isRunning { killedWhileRunning += 1 }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()

            let before = try count(indexed + "5")
            let after = try count(onDisk + "5")
            #expect(before + after > 0, "the index answers (killed at \(fraction))")
            #expect(before == 0 || after == 0, "never a mix of old and new (killed at \(fraction))")
            #expect(try MemoryManager(configuration: config, embedder: nil).index.stats().files == indexedFiles)
            if after > 0 { indexed = onDisk }  // the rebuild had committed
        }
        #expect(killedWhileRunning > 0, "a reindex was killed while running")

        let final = try MemoryManager(configuration: config, embedder: nil)
        let onDisk = indexed == "bravo" ? "alpha" : "bravo"
        try writeAll(marker: onDisk)
        let r = try final.reindex()
        #expect(r.skipped.isEmpty)
        #expect(try count(onDisk + "5") > 0)
        #expect(try count(indexed + "5") == 0)
    }
}
