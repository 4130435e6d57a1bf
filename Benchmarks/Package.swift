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
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PluginABIBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LocalGPTCore", package: rootIdentity),
            ],
            path: "Benchmarks/PluginABIBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
