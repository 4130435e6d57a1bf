// swift-tools-version:6.1
import PackageDescription

// SwiftPM names a path dependency after its folder, so the root package's identity is the name of
// the clone's directory ("main" here, something else in another checkout).
let rootIdentity = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "localgpt").lowercased()
let package = Package(
    name: "LocalGPTBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Builds and packages the fixture C plugin; the bare-call helper. Shared by both executables.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "LocalGPTCore", package: rootIdentity),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Cold loads: N distinct copies of the fixture (each dlopen maps a new file), plus stages.
        .executableTarget(
            name: "plugin-load-cold",
            dependencies: ["BenchSupport", .product(name: "LocalGPTCore", package: rootIdentity)]
        ),
        // One operation N times: instruction counts per operation under callgrind.
        .executableTarget(
            name: "plugin-call-loop",
            dependencies: ["BenchSupport", .product(name: "LocalGPTCore", package: rootIdentity)]
        ),
        .executableTarget(
            name: "PluginABIBenchmarks",
            dependencies: [
                "BenchSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LocalGPTCore", package: rootIdentity),
            ],
            path: "Benchmarks/PluginABIBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
