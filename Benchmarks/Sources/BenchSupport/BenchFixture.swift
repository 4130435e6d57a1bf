//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
public import LocalGPTCore
import Logging

/// Where the repository and its release build live, and how the benchmarks make their plugins.
///
/// The fixture plugin is `Tests/Fixtures/plugins/fixture_plugin.c`, compiled here with `cc` the way
/// `make plugins` compiles the bundled C plugin (same flags), then packaged with
/// `PluginPackager.package(library:into:)`. Only the tools `noop` and `echo` are declared.
public enum BenchFixture {
    /// The repository root: four folders above this file (Benchmarks/Sources/BenchSupport/).
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The id the fixture's manifest declares.
    public static let pluginID = "org.bench.fixture"

    /// The schema of `echo`: typed, closed, with bounds, like a real tool's.
    public static let echoSchema: JSONValue = [
        "type": "object",
        "properties": [
            "city": ["type": "string", "minLength": 1, "maxLength": 100],
            "days": ["type": "integer", "minimum": 1, "maximum": 7],
            "units": ["type": "string"],
            "lang": ["type": "string"],
        ],
        "required": ["city"],
        "additionalProperties": false,
    ]

    /// The `echo` arguments: 55 bytes of JSON.
    public static let echoArguments = #"{"city":"Berlin","days":3,"units":"metric","lang":"de"}"#

    /// The manifest the library embeds (and plugin.json repeats).
    public static var manifest: JSONValue {
        [
            "id": .string(pluginID),
            "name": "Benchmark fixture",
            "version": "1.0.0",
            "abi": ["major": 1, "minor": 0],
            "kinds": ["tool"],
            "concurrency": "parallel",
            "tools": [
                ["name": "noop", "description": "writes {}", "parameters": ["type": "object"]],
                ["name": "echo", "description": "writes {\"echo\": <args>}", "parameters": echoSchema],
            ],
            "permissions": [:],
        ]
    }

    /// A fresh scratch folder under `$LOCALGPT_BENCH_SCRATCH` or the system temporary folder.
    public static func makeScratchDirectory(_ prefix: String) throws -> String {
        let base = ProcessInfo.processInfo.environment["LOCALGPT_BENCH_SCRATCH"] ?? NSTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        var template = Array((base + "/" + prefix + ".XXXXXX").utf8CString)
        guard let dir = mkdtemp(&template) else { throw BenchError("mkdtemp failed in \(base)") }
        return String(cString: dir)
    }

    /// Compiles the fixture into `<scratch>/build/libfixture.so` and packages it into
    /// `<scratch>/org.bench.fixture/` (plugin.json + library). Returns the plugin folder.
    public static func buildPluginFolder(in scratch: String) throws -> String {
        let scratch = LocalGPTPaths.absolutePath(scratch)
        let build = scratch + "/build"
        try FileManager.default.createDirectory(atPath: build, withIntermediateDirectories: true)
        var literal = ""
        JSONValue.writeString(manifest.encoded(), to: &literal)
        let header = build + "/fixture_manifest.h"
        try """
        #define FIXTURE_ID "\(pluginID)"
        #define FIXTURE_VERSION "1.0.0"
        #define FIXTURE_KINDS (LGPT_KIND_TOOL)
        #define FIXTURE_MANIFEST \(literal)

        """.write(toFile: header, atomically: true, encoding: .utf8)
        let lib = build + "/libfixture.so"
        let cc = ProcessInfo.processInfo.environment["CC"] ?? "/usr/bin/cc"
        let args =
            ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden"]
            + ["-I", repositoryRoot + "/Sources/CLocalGPTPlugin/include"]
            + ["-DFIXTURE_MANIFEST_HEADER=\"\(header)\""]
            + [repositoryRoot + "/Tests/Fixtures/plugins/fixture_plugin.c", "-o", lib]
        try run(cc, args)
        let folder = scratch + "/" + pluginID
        try PluginPackager.package(library: lib, into: folder)
        return folder
    }

    /// Copies a plugin folder (plugin.json + library) to `destination`: a new inode, so `dlopen`
    /// of the copy really maps it.
    public static func copyFolder(_ source: String, to destination: String) throws {
        try FileManager.default.copyItem(atPath: source, toPath: destination)
    }

    /// The folder of the release bundled plugins: `$LOCALGPT_BUNDLED_PLUGINS`, else
    /// `<root>/.build/release/plugins` (what `make build CONFIG=release` stages), or nil.
    public static var releaseBundledPlugins: String? {
        if let dir = ProcessInfo.processInfo.environment["LOCALGPT_BUNDLED_PLUGINS"], !dir.isEmpty { return dir }
        let dir = repositoryRoot + "/.build/release/plugins"
        return FileManager.default.fileExists(atPath: dir + "/org.localgpt.text/plugin.json") ? dir : nil
    }

    /// A host with an empty configuration, no grants and a silent logger.
    public static func makeHost(home: String, libraryHashes: LibraryHashCache? = nil) -> PluginHost {
        PluginHost(
            paths: LocalGPTPaths(home: home),
            configuration: Configuration(document: [:], environment: [:]),
            logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }),
            libraryHashes: libraryHashes
        )
    }

    @discardableResult
    static func run(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw BenchError("\(tool) failed: \(text)") }
        return text
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Monotonic nanoseconds.
public func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU nanoseconds of the calling thread (user + system): unlike wall time, barely moved by other
/// processes competing for the two cores.
public func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// A wall-clock and a thread-CPU reading taken together.
public struct Instant {
    public var wall: UInt64
    public var cpu: UInt64

    public static func now() -> Instant { Instant(wall: nowNanoseconds(), cpu: threadCPUNanoseconds()) }

    /// Microseconds since `start`: (wall, cpu).
    public func since(_ start: Instant) -> (wall: Double, cpu: Double) {
        (Double(wall - start.wall) / 1000, Double(cpu - start.cpu) / 1000)
    }
}

/// Order statistics of a sample.
public struct Summary {
    public var count: Int
    public var min: Double
    public var median: Double
    public var p90: Double
    public var max: Double

    public init(_ values: [Double]) {
        let s = values.sorted()
        count = s.count
        min = s.first ?? .nan
        max = s.last ?? .nan
        median = s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
        p90 = s.isEmpty ? .nan : s[Swift.min(s.count - 1, Int((Double(s.count) * 0.9).rounded(.up)) - 1)]
    }
}
