//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

// Plugin ABI costs: one tool call through `PluginHost.invoke` (JSON in, JSON out), the pieces it
// is made of, and loading a plugin folder. docs/PERFORMANCE.md has the figures and the targets.
//
//   cd Benchmarks && swift package --disable-sandbox benchmark
//   swift package --disable-sandbox benchmark --filter 'PluginABI.invoke.*'

import BenchSupport
import Benchmark
import Foundation
import LocalGPTCore

/// Built once per benchmark process, on first use (inside a `setup:` closure, never measured).
final class Fixture: @unchecked Sendable {
    static let shared: Fixture = {
        do {
            return try Fixture()
        } catch {
            fatalError("benchmark fixture: \(error)")
        }
    }()

    let scratch: String
    /// The packaged fixture plugin folder (plugin.json + libfixture.so).
    let folder: String
    let library: String
    /// A host with the fixture and, when the release build staged it, the Swift text plugin.
    let host: PluginHost
    let hasTextPlugin: Bool
    let raw: RawPlugin
    let echoSchema: JSONSchema
    let echoArguments: JSONValue

    init() throws {
        scratch = try BenchFixture.makeScratchDirectory("lgpt-bench")
        folder = try BenchFixture.buildPluginFolder(in: scratch)
        library = folder + "/libfixture.so"
        host = BenchFixture.makeHost(home: scratch + "/home")
        try host.load(directory: folder, origin: .bundled)
        if let bundled = BenchFixture.releaseBundledPlugins {
            try host.load(directory: bundled + "/org.localgpt.text", origin: .bundled)
            hasTextPlugin = true
        } else {
            FileHandle.standardError.write(
                Data("note: no release bundled plugins (run `make build CONFIG=release`): text plugin skipped\n".utf8)
            )
            hasTextPlugin = false
        }
        raw = try RawPlugin(library: library)
        echoSchema = try JSONSchema(BenchFixture.echoSchema)
        echoArguments = try JSONValue(parsing: BenchFixture.echoArguments)
    }
}

let benchmarks: @Sendable () -> Void = {
    // What every micro-benchmark records. `.instructions` needs hardware counters (perf_event_open):
    // on a VM without them it is not reported; docs/PERFORMANCE.md counts instructions with
    // callgrind (the plugin-call-loop executable). `.cpuTotal` is left out: its 10 ms tick is too
    // coarse for calls of a few µs.
    let microMetrics: [BenchmarkMetric] = [.wallClock, .mallocCountTotal, .instructions, .throughput]

    let invokeConfiguration = Benchmark.Configuration(
        metrics: microMetrics,
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 100_000,
        setup: { _ = Fixture.shared }
    )

    let loadConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, .instructions],
        timeUnits: .microseconds,
        warmupIterations: 20,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 5_000,
        setup: { _ = Fixture.shared }
    )

    // MARK: The issue's target: PluginHost.invoke round trip, <= 2 µs median.

    Benchmark("PluginABI.invokeNoop", configuration: invokeConfiguration) { benchmark in
        let host = Fixture.shared.host
        for _ in benchmark.scaledIterations {
            blackHole(try host.invoke(tool: "noop", arguments: "{}"))
        }
    }

    Benchmark("PluginABI.invokeEcho", configuration: invokeConfiguration) { benchmark in
        let host = Fixture.shared.host
        let args = BenchFixture.echoArguments
        for _ in benchmark.scaledIterations {
            blackHole(try host.invoke(tool: "echo", arguments: args))
        }
    }

    // Includes the Swift plugin's own work (Codable decode, the statistics, Codable encode).
    Benchmark("PluginABI.invokeSwiftTextStats", configuration: invokeConfiguration) { benchmark in
        let fixture = Fixture.shared
        guard fixture.hasTextPlugin else { return }
        let args = #"{"text":"The quick brown fox jumps over the lazy dog. Twice."}"#
        for _ in benchmark.scaledIterations {
            blackHole(try fixture.host.invoke(tool: "org.localgpt.text/text_stats", arguments: args))
        }
    }

    // MARK: The pieces of one invoke (for the breakdown).

    Benchmark("PluginABI.resolveTool", configuration: invokeConfiguration) { benchmark in
        let host = Fixture.shared.host
        for _ in benchmark.scaledIterations {
            blackHole(try host.resolveTool("echo"))
        }
    }

    Benchmark("JSON.parseEmptyObject", configuration: invokeConfiguration) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try JSONValue(parsing: "{}"))
        }
    }

    Benchmark("JSON.parseEchoArguments", configuration: invokeConfiguration) { benchmark in
        let args = BenchFixture.echoArguments
        for _ in benchmark.scaledIterations {
            blackHole(try JSONValue(parsing: args))
        }
    }

    Benchmark("JSON.validateEchoArguments", configuration: invokeConfiguration) { benchmark in
        let fixture = Fixture.shared
        for _ in benchmark.scaledIterations {
            blackHole(fixture.echoSchema.validate(fixture.echoArguments))
        }
    }

    // The C call with a collecting sink and the output String, as the host does it, minus the host.
    Benchmark("PluginABI.rawInvokeNoop", configuration: invokeConfiguration) { benchmark in
        let raw = Fixture.shared.raw
        for _ in benchmark.scaledIterations {
            blackHole(raw.invoke("noop", "{}"))
        }
    }

    Benchmark("PluginABI.rawInvokeEcho", configuration: invokeConfiguration) { benchmark in
        let raw = Fixture.shared.raw
        let args = BenchFixture.echoArguments
        for _ in benchmark.scaledIterations {
            blackHole(raw.invoke("echo", args))
        }
    }

    // The bare FFI call into the C plugin with a sink that discards: the floor.
    Benchmark("PluginABI.bareCallNoop", configuration: invokeConfiguration) { benchmark in
        let raw = Fixture.shared.raw
        "noop".withCString { name in
            "{}".withCString { args in
                for _ in benchmark.scaledIterations {
                    blackHole(raw.invokeDiscarding(name, args, 2))
                }
            }
        }
    }

    // MARK: Loading (target: <= 0.5 ms median per plugin).

    // A fresh PluginHost per iteration loads the same folder: sidecar + schema compile + sha256 +
    // dlopen + entry + checks + create. After the first iteration dlopen returns the cached handle,
    // so this is the warm path; `plugin-load-cold` measures real dlopens of distinct copies.
    Benchmark("PluginABI.loadPlugin", configuration: loadConfiguration) { benchmark in
        let fixture = Fixture.shared
        for _ in benchmark.scaledIterations {
            let host = BenchFixture.makeHost(home: fixture.scratch + "/home")
            benchmark.startMeasurement()
            blackHole(try host.load(directory: fixture.folder, origin: .bundled))
            benchmark.stopMeasurement()
            host.shutdown()
        }
    }

    Benchmark("PluginLoad.sidecar", configuration: loadConfiguration) { benchmark in
        let folder = Fixture.shared.folder
        for _ in benchmark.scaledIterations {
            blackHole(try PluginSidecar(directory: folder))
        }
    }

    Benchmark("PluginLoad.sha256", configuration: loadConfiguration) { benchmark in
        let library = Fixture.shared.library
        for _ in benchmark.scaledIterations {
            blackHole(sha256Hex(ofFile: library))
        }
    }
}
