//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import LocalGPTCore

/// `localgpt models`: the providers, aliases and default model, and whether each provider is configured; plus two
/// hidden commands for maintainers: `models eval` (the tool-calling eval of a model) and `models bench` (the host
/// path against the same llama-server spoken to directly).
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the model providers, aliases and the default model.",
        subcommands: [List.self, Eval.self, Bench.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List providers, aliases, default and fallbacks."
        )
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let context = try CLIContext.make(options)
            let host = try context.makeHost()
            defer { host.shutdown() }
            let router = ProviderRouter(host: host)
            let resolver = router.resolver
            let local = host.localModels
            var providers: [JSONValue] = []
            for name in ModelResolver.knownProviders {
                let served = host.provider(forModel: name + "/x")
                var o: [String: JSONValue] = [
                    "provider": .string(name), "prefix": .string(name + "/"),
                    "configured": .bool(resolver.isConfigured(name)),
                    "plugin": served.map { .string($0.plugin.id) } ?? .null,
                ]
                if !resolver.isConfigured(name) { o["add"] = .string(ModelResolver.configurationHint(name)) }
                providers.append(.object(o))
            }
            let aliases = resolver.aliases.sorted { $0.key < $1.key }
            let defaultModel = try? resolver.resolve(nil)
            let doc: JSONValue = [
                "default_model": .string(resolver.defaultModel),
                "default_resolves_to": defaultModel.map { .string($0.model) } ?? .null,
                "fallback_models": .array(resolver.fallbackModels.map(JSONValue.string)),
                "aliases": .object(
                    Dictionary(uniqueKeysWithValues: aliases.map { ($0.key, JSONValue.string($0.value)) })
                ),
                "providers": .array(providers),
                "local": local.statusDocument(),
            ]
            if json {
                print(doc.encoded(pretty: true))
                return
            }
            print("default model: \(resolver.defaultModel)" + (defaultModel.map { " -> \($0.model)" } ?? ""))
            if !resolver.fallbackModels.isEmpty {
                print("fallbacks:     " + resolver.fallbackModels.joined(separator: ", "))
            }
            print("\nproviders:")
            for p in providers {
                let name = p["prefix"]?.stringValue ?? ""
                let state = p["configured"]?.boolValue == true ? "configured" : "not configured"
                let plugin = p["plugin"]?.stringValue ?? "no plugin loaded"
                print(
                    "  " + name.padding(toLength: 13, withPad: " ", startingAt: 0)
                        + state.padding(
                            toLength: 16,
                            withPad: " ",
                            startingAt: 0
                        ) + plugin
                )
            }
            print("\naliases:")
            for (alias, target) in aliases {
                print("  " + alias.padding(toLength: 11, withPad: " ", startingAt: 0) + target)
            }
            print("\nlocal models (\(local.modelsDirectory)):")
            let installed = local.installedModels()
            if installed.isEmpty { print("  none installed: run scripts/install-llama.sh") }
            for m in installed {
                print("  local/\(m.name)  (\(m.bytes / 1_000_000) MB)")
            }
            print(
                "  llama-server: "
                    + (local.isServerInstalled ? local.serverBinary : "not installed (scripts/install-llama.sh)")
            )
        }
    }

    // MARK: eval

    /// Runs the tool-calling eval: each case is a user prompt and the tool it needs (or none); a case passes when
    /// the model calls exactly that tool with schema-valid arguments, or calls no tool when none is needed.
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval",
            abstract: "Tool-calling eval of a model (maintainers; see scripts/eval-tools.sh).",
            shouldDisplay: false
        )
        @OptionGroup var options: GlobalOptions
        @Option(name: .shortAndLong, help: "The model (default: agent.default_model).") var model: String?
        @Option(help: "The cases file (JSON).") var cases: String = "scripts/eval-tools.json"
        @Option(help: "Sampling temperature.") var temperature: Double = 0
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let context = try CLIContext.make(options)
            let host = try context.makeHost()
            defer { host.shutdown() }
            let router = ProviderRouter(host: host)
            let data = try Data(contentsOf: URL(fileURLWithPath: cases))
            let doc = try JSONValue(parsing: data)
            let system = doc["system"]?.stringValue ?? "You are a helpful assistant."
            let tools = doc["tools"]?.arrayValue ?? []
            var results: [JSONValue] = []
            var passed = 0
            var needTool = 0
            var started = Date()
            let total = Date()
            for c in doc["cases"]?.arrayValue ?? [] {
                let prompt = c["prompt"]?.stringValue ?? ""
                let expected = c["tool"]?.stringValue
                if expected != nil { needTool += 1 }
                let request: JSONValue = [
                    "messages": [
                        ["role": "system", "content": .string(system)], ["role": "user", "content": .string(prompt)],
                    ],
                    "tools": .array(tools), "temperature": .double(temperature), "max_tokens": 256,
                ]
                started = Date()
                let outcome: String
                var ok = false
                var called: [String] = []
                do {
                    let r = try router.generate(model: model, request: request, useFallbacks: false)
                    called = r.toolCalls.map(\.name)
                    if let expected {
                        ok =
                            r.toolCalls.count >= 1
                            && r.toolCalls.allSatisfy { $0.name == expected && $0.problem == nil }
                        outcome =
                            r.toolCalls.isEmpty
                            ? "answered in text: \(r.text.prefix(60).replacingOccurrences(of: "\n", with: " "))"
                            : r.toolCalls.map {
                                "\($0.name)(\($0.arguments.encoded()))" + ($0.problem.map { " [\($0)]" } ?? "")
                            }
                            .joined(separator: ", ")
                    } else {
                        ok = r.toolCalls.isEmpty
                        outcome =
                            ok
                            ? "text: \(r.text.prefix(60).replacingOccurrences(of: "\n", with: " "))"
                            : "called " + r.toolCalls.map(\.name).joined(separator: ", ")
                    }
                } catch {
                    outcome = "error: \(error.message)"
                }
                if ok { passed += 1 }
                let seconds = Date().timeIntervalSince(started)
                results.append([
                    "prompt": .string(prompt), "expected": expected.map(JSONValue.string) ?? .null,
                    "called": .array(called.map(JSONValue.string)), "pass": .bool(ok), "detail": .string(outcome),
                    "seconds": .double((seconds * 100).rounded() / 100),
                ])
                if !json {
                    print(
                        (ok ? "PASS " : "FAIL ") + String(format: "%5.1fs  ", seconds)
                            + "[\(expected ?? "no tool")] \(prompt.prefix(70)) -> \(outcome)"
                    )
                }
            }
            let count = results.count
            let elapsed = Date().timeIntervalSince(total)
            if json {
                let summary: JSONValue = [
                    "model": .string(model ?? router.resolver.defaultModel), "passed": .int(Int64(passed)),
                    "total": .int(Int64(count)), "need_tool": .int(Int64(needTool)), "seconds": .double(elapsed),
                    "results": .array(results),
                ]
                print(summary.encoded(pretty: true))
            } else {
                print(
                    "\nscore: \(passed)/\(count) (\(needTool) need a tool, \(count - needTool) do not) in "
                        + String(format: "%.0f s", elapsed)
                )
            }
        }
    }

    // MARK: bench

    /// Time to first token and token throughput of the host path (router -> plugin -> host HTTP -> llama-server)
    /// against the same llama-server spoken to directly; plus the server's memory.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Host path vs direct llama-server: TTFT, tokens/s, RSS (maintainers).",
            shouldDisplay: false
        )
        @OptionGroup var options: GlobalOptions
        @Option(name: .shortAndLong, help: "A local model.") var model: String = "local/qwen2.5-coder-0.5b-instruct"
        @Option(help: "Runs per path (alternated).") var runs: Int = 5
        @Option(help: "Tokens generated per run.") var tokens: Int = 200
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let context = try CLIContext.make(options)
            let host = try context.makeHost()
            defer { host.shutdown() }
            let router = ProviderRouter(host: host)
            let resolved = try router.resolver.resolve(model)
            guard resolved.provider == "local" else { throw CLIError("bench needs a local/<model>") }
            let name = String(resolved.model.dropFirst("local/".count))
            let coldStart = Date()
            let server = try host.localModels.ensure(model: name)
            let startup = Date().timeIntervalSince(coldStart)
            let messages: JSONValue = [
                ["role": "system", "content": "You are a storyteller."],
                ["role": "user", "content": "Write a long story about a lighthouse keeper and a storm."],
            ]
            let routed: JSONValue = [
                "messages": messages, "max_tokens": .int(Int64(tokens)), "temperature": 0, "stream": true,
            ]
            // The body the plugin sends for this request (OpenAIProvider.body): the same bytes go direct.
            let direct: JSONValue = [
                "model": .string(name), "messages": messages, "max_tokens": .int(Int64(tokens)), "temperature": 0.0,
                "stream": true, "stream_options": ["include_usage": true], "cache_prompt": true,
            ]
            var hostRuns: [(ttft: Double, tps: Double, tokens: Int)] = []
            var directRuns: [(ttft: Double, tps: Double, tokens: Int)] = []
            // A warm-up of each path (loads the prompt cache).
            _ = try? runHost(router, model: resolved.model, request: routed)
            _ = try? runDirect(server.baseURL, body: direct)
            for _ in 0..<runs {
                directRuns.append(try runDirect(server.baseURL, body: direct))
                hostRuns.append(try runHost(router, model: resolved.model, request: routed))
            }
            let rss = Self.rssMegabytes(pid: server.pid)
            func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
            let hTTFT = median(hostRuns.map(\.ttft))
            let dTTFT = median(directRuns.map(\.ttft))
            let hTPS = median(hostRuns.map(\.tps))
            let dTPS = median(directRuns.map(\.tps))
            let doc: JSONValue = [
                "model": .string(resolved.model), "runs": .int(Int64(runs)), "tokens": .int(Int64(tokens)),
                "server_start_s": .double(startup), "server_rss_mb": rss.map { .double($0) } ?? .null,
                "direct": ["ttft_ms": .double(dTTFT), "tokens_per_s": .double(dTPS)],
                "host": ["ttft_ms": .double(hTTFT), "tokens_per_s": .double(hTPS)],
                "ttft_overhead_ms": .double(hTTFT - dTTFT), "throughput_ratio": .double(hTPS / dTPS),
            ]
            if json {
                print(doc.encoded(pretty: true))
                return
            }
            print(String(format: "server start (incl. model load): %.2f s, RSS %.0f MB", startup, rss ?? 0))
            print(String(format: "direct: TTFT %.1f ms, %.1f tokens/s", dTTFT, dTPS))
            print(String(format: "host:   TTFT %.1f ms, %.1f tokens/s", hTTFT, hTPS))
            print(String(format: "overhead: TTFT %+.1f ms, throughput %.1f%%", hTTFT - dTTFT, 100 * hTPS / dTPS))
        }

        private func runHost(
            _ router: ProviderRouter,
            model: String,
            request: JSONValue
        ) throws
            -> (ttft: Double, tps: Double, tokens: Int)
        {
            let start = DispatchTime.now().uptimeNanoseconds
            var first: UInt64?
            var last: UInt64 = start
            let r = try router.generate(model: model, request: request, useFallbacks: false) { event in
                if case .text = event {
                    let now = DispatchTime.now().uptimeNanoseconds
                    if first == nil { first = now }
                    last = now
                }
                return true
            }
            let tokens = r.usage.outputTokens ?? 0
            let ttft = Double((first ?? last) - start) / 1e6
            let span = Double(last - (first ?? start)) / 1e9
            return (ttft, span > 0 ? Double(max(tokens - 1, 0)) / span : 0, tokens)
        }

        private func runDirect(_ baseURL: String, body: JSONValue) throws -> (ttft: Double, tps: Double, tokens: Int) {
            let request = HTTPRequest(
                method: "POST",
                url: baseURL + "/v1/chat/completions",
                headers: [("Content-Type", "application/json")],
                body: Array(body.encoded().utf8),
                timeoutMilliseconds: 600_000
            )
            let start = DispatchTime.now().uptimeNanoseconds
            var first: UInt64?
            var last: UInt64 = start
            var tokens = 0
            var pending: [UInt8] = []
            do {
                _ = try HTTPClient().perform(
                    request,
                    onHead: { _ in true },
                    onBody: { chunk in
                        pending.append(contentsOf: chunk)
                        while let nl = pending.firstIndex(of: 0x0A) {
                            let line = String(decoding: pending[..<nl], as: UTF8.self)
                            pending.removeSubrange(...nl)
                            guard line.hasPrefix("data: "), let doc = try? JSONValue(parsing: String(line.dropFirst(6)))
                            else { continue }
                            if let t = doc["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue, !t.isEmpty
                            {
                                let now = DispatchTime.now().uptimeNanoseconds
                                if first == nil { first = now }
                                last = now
                            }
                            if let u = doc["usage"]?["completion_tokens"]?.intValue { tokens = Int(u) }
                        }
                        return true
                    }
                )
            } catch {
                throw CLIError("direct request failed: \(error.message)")
            }
            let ttft = Double((first ?? last) - start) / 1e6
            let span = Double(last - (first ?? start)) / 1e9
            return (ttft, span > 0 ? Double(max(tokens - 1, 0)) / span : 0, tokens)
        }

        static func rssMegabytes(pid: Int32) -> Double? {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
            else { return nil }
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
    }
}
