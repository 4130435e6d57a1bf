//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Logging
import Testing

/// `localgpt ask` end to end on the local default model, with no network: the built binary, the bundled
/// providers plugin, llama-server and the embedder, all installed by the set-up. As root the process runs in
/// a new network namespace with only the loopback up (`unshare -n`), which proves nothing leaves the machine.
/// Skipped only when the set-up has not installed llama-server or the model (CI runs the set-up).
@Suite(.serialized) struct LocalModelAskTests {
    static let manager = LocalModelManager(
        configuration: Configuration(),
        paths: LocalGPTPaths(home: NSTemporaryDirectory()),
        logger: Logger(label: "probe")
    )
    static var installed: Bool {
        manager.isServerInstalled && manager.modelFile(named: "qwen2.5-coder-0.5b-instruct") != nil
    }
    static var isolateNetwork: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    /// Runs `localgpt ask <question> --format json` in `home` and returns the JSON reply and standard error.
    static func ask(_ question: String, home: String) throws -> (reply: JSONValue, stderr: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["LOCALGPT_HOME"] = home
        environment["LOCALGPT_BUNDLED_PLUGINS"] = CLITests.bundled
        let args = ["ask", question, "--format", "json"]
        let r: (status: Int32, stdout: String, stderr: String)
        if isolateNetwork {
            let quoted = ([TestSupport.localgptExecutable] + args).map {
                "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'"
            }
            r = try TestSupport.run(
                "/usr/bin/unshare",
                ["-n", "/bin/sh", "-c", "/usr/sbin/ip link set lo up && exec " + quoted.joined(separator: " ")],
                environment: environment
            )
        } else {
            r = try TestSupport.run(TestSupport.localgptExecutable, args, environment: environment)
        }
        try #require(r.status == 0, "ask failed: \(r.stderr)")
        return (try JSONValue(parsing: r.stdout), r.stderr)
    }

    @Test(.enabled(if: installed, "llama-server or the model is not installed (run scripts/setup.sh)"))
    func askAnswersAndSearchesMemoryWithNoNetwork() throws {
        let home = TestSupport.makeTemporaryDirectory("lgpt-local-ask")
        var environment = ProcessInfo.processInfo.environment
        environment["LOCALGPT_HOME"] = home
        _ = try TestSupport.run(TestSupport.localgptExecutable, ["init"], environment: environment)
        // The fact lives only in an old daily log: not in the context, so the model must search for it.
        let memory = home + "/workspace/memory"
        try FileManager.default.createDirectory(atPath: memory, withIntermediateDirectories: true)
        try "# 2025-03-01\n\n- Talked about family. My wife Anna's birthday is on March 14.\n"
            .write(toFile: memory + "/2025-03-01.md", atomically: true, encoding: .utf8)

        let plain = try Self.ask("What is the capital of France?", home: home)
        #expect(plain.reply["model"] == "local/qwen2.5-coder-0.5b-instruct")
        #expect(plain.reply["response"]?.stringValue?.contains("Paris") == true, "\(plain.reply)")

        let recall = try Self.ask("What is my wife's birthday? I told you before.", home: home)
        #expect(recall.stderr.contains("Running tool: memory_search"), "\(recall.stderr)")
        #expect((recall.reply["tool_calls"]?.intValue ?? 0) >= 1)
        let answer = recall.reply["response"]?.stringValue ?? ""
        #expect(answer.contains("March 14") || answer.contains("14 March"), "answer: \(answer)")
    }
}
