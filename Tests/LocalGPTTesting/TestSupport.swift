//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore

/// Paths and builders the test targets share.
public enum TestSupport {
    /// The repository root (derived from this file's path).
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The build's bin folder: the test runner lives there, next to `localgpt` and the plugin libraries.
    public static var binDirectory: String { PluginDiscovery.executableDirectory() }

    /// The built `localgpt` executable.
    public static var localgptExecutable: String { binDirectory + "/localgpt" }

    /// The lgpt_plugin.h folder.
    public static var abiIncludeDirectory: String { repositoryRoot + "/Sources/CLocalGPTPlugin/include" }

    /// The live child processes of `parent` with their names (`/proc/<pid>/comm`).
    public static func children(of parent: Int32) -> [(pid: Int32, name: String)] {
        let proc = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return proc.compactMap { entry -> (pid: Int32, name: String)? in
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // "pid (comm) state ppid ...": comm may hold spaces and ")".
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, fields[0] != "Z", Int32(fields[1]) == parent,
                let open = stat.firstIndex(of: "(")
            else { return nil }
            return (pid, String(stat[stat.index(after: open)..<close]))
        }
    }

    /// The first child of `parent` named `name`, waited for up to `timeout` seconds; nil when none
    /// appeared.
    public static func waitForChild(of parent: Int32, named name: String, timeout: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let child = children(of: parent).first(where: { $0.name == name }) { return child.pid }
            usleep(10_000)
        } while Date() < deadline
        return nil
    }

    /// A new empty folder under the system's temporary folder.
    /// Every temporary directory of this test process lives under `<tmp>/lgpt-tests.<pid>`, removed when
    /// the process exits; folders left by test processes that died (no such pid) are removed at start.
    /// Without this, each `make test` left about a thousand folders in /tmp.
    public static let scratchRoot: String = {
        let tmp = URL(fileURLWithPath: NSTemporaryDirectory()).standardizedFileURL.path
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix("lgpt-tests.") {
            guard let pid = Int32(name.dropFirst("lgpt-tests.".count)), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? fm.removeItem(atPath: tmp + "/" + name) }
        }
        let root = tmp + "/lgpt-tests.\(getpid())"
        try? fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestSupport.scratchRoot) }
        return root
    }()

    public static func makeTemporaryDirectory(_ prefix: String = "lgpt-test") -> String {
        let base = scratchRoot
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        let ok = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) } != nil
        precondition(ok, "mkdtemp failed")
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Runs a program and returns (exit status, stdout, stderr). Standard input is /dev/null
    /// unless `input` is given.
    @discardableResult
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        input: String? = nil
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try p.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try inPipe.fileHandleForWriting.close()
        }
        // Read both pipes to the end before waiting, so a large output cannot block the child.
        final class Box: @unchecked Sendable { var data = Data() }  // written before group.leave()
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        let errHandle = err.fileHandleForReading
        DispatchQueue.global().async {
            errBox.data = errHandle.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// Compiles a C plugin with the C compiler from the ABI header alone, as plugin authors do.
    public static func compileCPlugin(source: String, output: String, defines: [String] = []) throws {
        let cc = ProcessInfo.processInfo.environment["CC"] ?? "/usr/bin/cc"
        let args =
            ["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden"]
            + ["-I", abiIncludeDirectory] + defines.map { "-D" + $0 } + [source, "-o", output]
        let r = try run(cc, args)
        if r.status != 0 { throw TestSupportError("cc failed for \(source): \(r.stderr)") }
    }

    /// The `bin` folder of the Swift toolchain whose runtime this process runs on, found from the file
    /// libswiftCore.so was mapped from (`<toolchain>/usr/lib/swift/linux/libswiftCore.so`, in /proc/self/maps,
    /// read with stdio: procfs files report no size): a Swift plugin that shares the host's runtime must be
    /// built by this toolchain.
    public static let swiftToolchainBinDirectory: String? = {
        guard let maps = fopen("/proc/self/maps", "r") else { return nil }
        defer { fclose(maps) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        var runtime: String?
        while runtime == nil, getline(&line, &capacity, maps) > 0, let line {
            let text = String(cString: line).trimmingCharacters(in: .newlines)
            if text.hasSuffix("/libswiftCore.so"), let slash = text.firstIndex(of: "/") {
                runtime = String(text[slash...])
            }
        }
        guard let runtime else { return nil }
        var url = URL(fileURLWithPath: runtime).resolvingSymlinksInPath()
        for _ in 0..<4 { url.deleteLastPathComponent() }  // libswiftCore.so, linux, swift, lib
        let bin = url.path + "/bin"
        return FileManager.default.isExecutableFile(atPath: bin + "/swiftc") ? bin : nil
    }()

    /// Builds the bundled plugins the way `make plugins` does into `directory`:
    /// `<directory>/org.localgpt.sysinfo` (C, built here), `<directory>/org.localgpt.text`,
    /// `<directory>/org.localgpt.tools` and `<directory>/org.localgpt.providers` (the Swift libraries SwiftPM built).
    public static func stageBundledPlugins(into directory: String) throws {
        let scratch = makeTemporaryDirectory("lgpt-cplugin")
        let lib = scratch + "/libsysinfo.so"
        try compileCPlugin(source: repositoryRoot + "/Plugins/SysInfo/sysinfo.c", output: lib)
        try PluginPackager.package(library: lib, into: directory + "/org.localgpt.sysinfo")
        try PluginPackager.package(
            library: binDirectory + "/libLocalGPTPluginText.so",
            into: directory + "/org.localgpt.text"
        )
        try PluginPackager.package(
            library: binDirectory + "/libLocalGPTPluginTools.so",
            into: directory + "/org.localgpt.tools"
        )
        try PluginPackager.package(
            library: binDirectory + "/libLocalGPTPluginProviders.so",
            into: directory + "/org.localgpt.providers"
        )
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
