//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

// Cold plugin loads: `PluginHost.load(directory:origin:)` on N distinct copies of the fixture C
// plugin, so every dlopen really maps and relocates a file (dlopen of a path already loaded only
// returns the cached handle, which is what the `PluginABI.loadPlugin` benchmark measures).
// Each load uses a fresh PluginHost. The stages are timed on a second set of copies.
// Every row gives wall-clock and thread-CPU time (user + system): on a busy 2-core machine the CPU
// column is the steadier one.
//
//   swift run -c release plugin-load-cold [--copies N] [--bundled DIR | --no-bundled] [--fixture DIR]
//   plugin-load-cold --make-fixture DIR     # only build + package the fixture into DIR/<id>
//
// --bundled DIR (default: the release build's staged plugins, when present) also times the
// first load of each bundled plugin in this process, and N copies of each bundled C plugin.

import BenchSupport
import CLocalGPTPlugin
import Foundation
import LocalGPTCore

var copies = 100
var bundled: String? = BenchFixture.releaseBundledPlugins
var fixture: String? = nil  // a packaged fixture folder made earlier (valgrind cannot run cc for us)
var useCache = true
var swiftStages = true
var arguments = CommandLine.arguments.dropFirst()
while let a = arguments.popFirst() {
    switch a {
    case "--copies": copies = Int(arguments.popFirst() ?? "") ?? copies
    case "--bundled": bundled = arguments.popFirst()
    case "--no-bundled": bundled = nil
    case "--fixture": fixture = arguments.popFirst()
    case "--no-hash-cache": useCache = false
    case "--no-swift-stages": swiftStages = false
    case "--make-fixture":
        let dir = arguments.popFirst() ?? "."
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        print(try BenchFixture.buildPluginFolder(in: dir))
        exit(0)
    default:
        print(
            "usage: plugin-load-cold [--copies N] [--bundled DIR | --no-bundled] [--fixture DIR] [--no-hash-cache] "
                + "[--no-swift-stages] "
                + "| --make-fixture DIR"
        )
        exit(2)
    }
}

/// Wall and CPU samples of one stage.
struct Samples {
    var wall: [Double] = []
    var cpu: [Double] = []
    mutating func add(_ s: (wall: Double, cpu: Double)) {
        wall.append(s.wall)
        cpu.append(s.cpu)
    }
}

func row(_ name: String, _ s: Samples) {
    let w = Summary(s.wall)
    let c = Summary(s.cpu)
    print(
        name.padding(toLength: 46, withPad: " ", startingAt: 0)
            + String(format: "%5d %9.1f %8.1f %8.1f   %9.1f %8.1f", w.count, w.median, w.min, w.p90, c.median, c.min)
    )
}

func header(_ title: String) {
    print("\n" + title)
    print(
        "stage".padding(toLength: 46, withPad: " ", startingAt: 0)
            + "    n  wall med  wall min wall p90    cpu med  cpu min   (µs)"
    )
}

let scratch = try BenchFixture.makeScratchDirectory("lgpt-load-cold")
defer { try? FileManager.default.removeItem(atPath: scratch) }
let original = try fixture ?? BenchFixture.buildPluginFolder(in: scratch)
let home = scratch + "/home"

// The first load in the process pays one-off costs (Foundation's JSON, Crypto, the dynamic
// linker's first lookups): reported on its own, then excluded.
var first = Samples()
do {
    let start = Instant.now()
    try BenchFixture.makeHost(home: home).load(directory: original, origin: .bundled)
    first.add(Instant.now().since(start))
}

// Two sets of copies: A for whole loads, B for the stages.
for set in ["a", "b"] {
    try FileManager.default.createDirectory(atPath: scratch + "/" + set, withIntermediateDirectories: true)
    for i in 0..<copies { try BenchFixture.copyFolder(original, to: "\(scratch)/\(set)/\(i)") }
}

var total = Samples()
var sidecar = Samples()
var schemas = Samples()
var sha = Samples()
var dlopenTimes = Samples()
var entry = Samples()
var embedded = Samples()
var hosts: [PluginHost] = []  // kept alive: deinit (destroy) stays out of the timings

for i in 0..<copies {
    // A: the whole load, fresh host.
    let host = BenchFixture.makeHost(home: home)
    let start = Instant.now()
    try host.load(directory: "\(scratch)/a/\(i)", origin: .bundled)
    total.add(Instant.now().since(start))
    hosts.append(host)

    // B: the stages load(directory:) runs, one by one, on another copy.
    let dir = "\(scratch)/b/\(i)"
    var t = Instant.now()
    func lap(_ s: inout Samples) {
        let u = Instant.now()
        s.add(u.since(t))
        t = u
    }
    let sc = try PluginSidecar(directory: dir)
    lap(&sidecar)
    for tool in sc.manifest.tools { _ = try JSONSchema(tool.parameters) }
    lap(&schemas)
    guard sha256Hex(ofFile: sc.libraryPath) == sc.librarySHA256 else { fatalError("sha mismatch") }
    lap(&sha)
    guard let handle = dlopen(sc.libraryPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else { fatalError("dlopen") }
    lap(&dlopenTimes)
    let fn = unsafeBitCast(dlsym(handle, LGPT_ENTRY_SYMBOL_V1)!, to: lgpt_plugin_entry_v1_fn.self)
    let descriptor = fn(UInt32(LGPT_ABI_MAJOR), UInt32(LGPT_ABI_MINOR))!
    lap(&entry)
    _ = try JSONValue(parsing: String(cString: descriptor.pointee.manifest_json)) == sc.manifest.json
    lap(&embedded)
}

print(
    "plugin-load-cold: \(copies) distinct copies of the fixture C plugin (\(BenchFixture.pluginID)), fresh PluginHost each"
)
print(
    String(
        format: "load average %@",
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(
            separator: " "
        ) ?? "?"
    )
)
header("per plugin, cold dlopen")
row("first load in this process (one-off costs)", first)
row("PluginHost.load total", total)
row("  1 sidecar: read + JSON parse + manifest", sidecar)
row("  2 tool schemas compiled", schemas)
row("  3 sha256 of the library", sha)
row("  4 dlopen (RTLD_NOW, new file)", dlopenTimes)
row("  5 dlsym + entry()", entry)
row("  6 embedded manifest: parse + compare", embedded)
let stages = [sidecar, schemas, sha, dlopenTimes, entry, embedded]
let wallSum = stages.map { Summary($0.wall).median }.reduce(0, +)
let cpuSum = stages.map { Summary($0.cpu).median }.reduce(0, +)
print(
    String(
        format: "  stages 1-6 sum of medians: wall %.1f µs, cpu %.1f µs; the rest of the total (manifest comparison,\n"
            + "  host table, create(), registry): wall %.1f µs, cpu %.1f µs",
        wallSum,
        cpuSum,
        Summary(total.wall).median - wallSum,
        Summary(total.cpu).median - cpuSum
    )
)

if let bundled {
    // As `localgpt` does, the host remembers library hashes across starts (LibraryHashCache): an
    // earlier process is simulated by hashing every bundled library into the cache file first;
    // each load then reads the cache file afresh. `--no-hash-cache` hashes at every load.
    let paths = LocalGPTPaths(home: home)
    let key = try DeviceKey.loadOrCreate(at: paths.deviceKey).key
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: bundled)) ?? []).sorted()
    if useCache {
        let warm = LibraryHashCache(path: paths.libraryHashCache, deviceKey: key)
        for name in names {
            if let sc = try? PluginSidecar(directory: bundled + "/" + name) { _ = warm.sha256(ofFile: sc.libraryPath) }
        }
        warm.save()
    }
    func freshCache() -> LibraryHashCache? {
        useCache ? LibraryHashCache(path: paths.libraryHashCache, deviceKey: key) : nil
    }
    header("bundled plugins from \(bundled), library hash cache \(useCache ? "warm" : "off")")
    for name in names where FileManager.default.fileExists(atPath: bundled + "/" + name + "/plugin.json") {
        let cache = freshCache()
        let host = BenchFixture.makeHost(home: home, libraryHashes: cache)
        var once = Samples()
        // A Swift plugin is loaded once only: its stages are timed on that one load, then
        // `load(directory:)` runs again on the same folder (dlopen returns the mapped image).
        let swift = isSwiftPlugin(bundled + "/" + name)
        var laps: [(String, Samples)] = []
        // --no-swift-stages: the one load of a Swift plugin is timed whole, as the CLI pays it.
        if swift && swiftStages {
            var t = Instant.now()
            func lap(_ label: String) {
                let u = Instant.now()
                var s = Samples()
                s.add(u.since(t))
                laps.append((label, s))
                t = u
            }
            let sc = try PluginSidecar(directory: bundled + "/" + name)
            lap("  1 sidecar")
            for tool in sc.manifest.tools { _ = try JSONSchema(tool.parameters) }
            lap("  2 tool schemas")
            let stageCache = freshCache()
            guard (stageCache?.sha256(ofFile: sc.libraryPath) ?? sha256Hex(ofFile: sc.libraryPath)) == sc.librarySHA256
            else { fatalError("sha mismatch") }
            lap(useCache ? "  3 sha256 (cache file read + hit)" : "  3 sha256")
            guard let handle = dlopen(sc.libraryPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
                fatalError("dlopen")
            }
            lap("  4 dlopen (first)")
            let fn = unsafeBitCast(dlsym(handle, LGPT_ENTRY_SYMBOL_V1)!, to: lgpt_plugin_entry_v1_fn.self)
            let descriptor = fn(UInt32(LGPT_ABI_MAJOR), UInt32(LGPT_ABI_MINOR))!
            lap("  5 dlsym + entry()")
            _ = try JSONValue(parsing: String(cString: descriptor.pointee.manifest_json)) == sc.manifest.json
            lap("  6 embedded manifest: parse + compare")
        }
        let start = Instant.now()
        do {
            try host.load(directory: bundled + "/" + name, origin: .bundled)
        } catch {
            print("\(name): \(error)")
            continue
        }
        once.add(Instant.now().since(start))
        row("\(name): \(swift && swiftStages ? "load after the stages" : "first load in process")", once)
        for (label, s) in laps { row(label, s) }
        hosts.append(host)
        // Copies of a C library are independent; copies of a Swift plugin would load one Swift
        // module several times into the process, so a Swift plugin is timed once (whole-process
        // figures: scripts/bench-cli.sh).
        guard !isSwiftPlugin(bundled + "/" + name) else { continue }
        var times = Samples()
        try FileManager.default.createDirectory(atPath: scratch + "/" + name, withIntermediateDirectories: true)
        for i in 0..<copies {
            let dir = "\(scratch)/\(name)/\(i)"
            try BenchFixture.copyFolder(bundled + "/" + name, to: dir)
            let h = BenchFixture.makeHost(home: home, libraryHashes: freshCache())
            let s = Instant.now()
            try h.load(directory: dir, origin: .bundled)
            times.add(Instant.now().since(s))
            hosts.append(h)
        }
        row("\(name): \(copies) copies, cold dlopen", times)
    }
}

/// A plugin whose library links the Swift runtime.
func isSwiftPlugin(_ folder: String) -> Bool {
    guard let sc = try? PluginSidecar(directory: folder),
        let data = FileManager.default.contents(atPath: sc.libraryPath)
    else { return false }
    return data.range(of: Data("libswiftCore.so".utf8)) != nil
}
