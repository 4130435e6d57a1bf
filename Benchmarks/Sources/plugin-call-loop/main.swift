//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

// Runs one operation N times and nothing else, for instruction counts under callgrind (the VM has
// no hardware counters, so `.instructions` in the benchmark suite stays empty) and for a quick
// CPU-time figure. Instructions per operation = (Ir at N - Ir at 0) / N:
//
//   plugin-load-cold --make-fixture /tmp/fx          # valgrind cannot run cc: build it first
//   objcopy --strip-debug .build/release/plugin-call-loop /tmp/pcl   # valgrind 3.19 cannot read DWARF 5
//   valgrind --tool=callgrind /tmp/pcl --fixture /tmp/fx/org.bench.fixture invokeNoop 0
//   valgrind --tool=callgrind /tmp/pcl --fixture /tmp/fx/org.bench.fixture invokeNoop 20000
//
// Operations: invokeNoop invokeEcho invokeTextStats resolveTool parseEmpty parseEcho validateEcho
// rawNoop rawEcho bareNoop sidecar sha256 sha256Cached loadWarm; sha256File hashes $BENCH_FILE.

import BenchSupport
import Foundation
import LocalGPTCore

var arguments = Array(CommandLine.arguments.dropFirst())
var fixture: String? = nil
if arguments.first == "--fixture", arguments.count >= 2 {
    fixture = arguments[1]
    arguments.removeFirst(2)
}
guard arguments.count == 2, let n = Int(arguments[1]) else {
    print("usage: plugin-call-loop [--fixture DIR] OPERATION N")
    exit(2)
}
let operation = arguments[0]

let scratch = try BenchFixture.makeScratchDirectory("lgpt-call-loop")
defer { try? FileManager.default.removeItem(atPath: scratch) }
let folder = try fixture ?? BenchFixture.buildPluginFolder(in: scratch)
let host = BenchFixture.makeHost(home: scratch + "/home")
try host.load(directory: folder, origin: .bundled)
if operation == "invokeTextStats" {
    guard let bundled = BenchFixture.releaseBundledPlugins else {
        print("no release bundled plugins: run `make build CONFIG=release`")
        exit(1)
    }
    try host.load(directory: bundled + "/org.localgpt.text", origin: .bundled)
}
let sidecar = try PluginSidecar(directory: folder)
let raw = try RawPlugin(library: sidecar.libraryPath)
let schema = try JSONSchema(BenchFixture.echoSchema)
let echoValue = try JSONValue(parsing: BenchFixture.echoArguments)
let echo = BenchFixture.echoArguments
let hashCache = LibraryHashCache(
    path: scratch + "/home/plugin-hashes.json",
    deviceKey: try DeviceKey.loadOrCreate(at: scratch + "/home/.device_key").key
)
let textArgs = #"{"text":"The quick brown fox jumps over the lazy dog. Twice."}"#

@inline(never)
func consume<T>(_ x: T) { withExtendedLifetime(x) {} }

// One untimed call of each kind first, so one-off costs stay out of the N-run difference.
func once() throws {
    switch operation {
    case "invokeNoop": consume(try host.invoke(tool: "noop", arguments: "{}"))
    case "invokeEcho": consume(try host.invoke(tool: "echo", arguments: echo))
    case "invokeTextStats": consume(try host.invoke(tool: "org.localgpt.text/text_stats", arguments: textArgs))
    case "resolveTool": consume(try host.resolveTool("echo"))
    case "parseEmpty": consume(try JSONValue(parsing: "{}"))
    case "parseEcho": consume(try JSONValue(parsing: echo))
    case "validateEcho": consume(schema.validate(echoValue))
    case "rawNoop": consume(raw.invoke("noop", "{}"))
    case "rawEcho": consume(raw.invoke("echo", echo))
    case "bareNoop": consume(raw.invokeDiscarding("noop", "{}", 2))
    case "sidecar": consume(try PluginSidecar(directory: folder))
    case "sha256": consume(sha256Hex(ofFile: sidecar.libraryPath))
    case "sha256Cached": consume(hashCache.sha256(ofFile: sidecar.libraryPath))
    case "sha256File":
        consume(sha256Hex(ofFile: ProcessInfo.processInfo.environment["BENCH_FILE"] ?? sidecar.libraryPath))
    case "loadWarm":
        let h = BenchFixture.makeHost(home: scratch + "/home")
        consume(try h.load(directory: folder, origin: .bundled))
    default:
        print("unknown operation \(operation)")
        exit(2)
    }
}

try once()
let start = Instant.now()
for _ in 0..<n { try once() }
let t = Instant.now().since(start)
if n > 0 {
    print(
        String(format: "%@ x %d: wall %.3f µs/op, cpu %.3f µs/op", operation, n, t.wall / Double(n), t.cpu / Double(n))
    )
}
