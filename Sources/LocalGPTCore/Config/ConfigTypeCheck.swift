//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Logging

extension Configuration {
    /// The host's own keys whose value has the wrong type, each with what is used instead:
    /// `agent.default_model = 42` used to fall back to the default model without a word. The CLI
    /// prints these as warnings; the memory, sandbox and local model settings check their own.
    public var typeWarnings: [String] {
        var out: [String] = []
        func expect(_ key: String, _ kind: String, using fallback: String, _ ok: (JSONValue) -> Bool) {
            guard let value = value(at: key), !ok(value) else { return }
            out.append("\(key) must be \(kind): ignored (using \(fallback))")
        }
        func isStringList(_ v: JSONValue) -> Bool { v.arrayValue?.allSatisfy { $0.stringValue != nil } ?? false }
        expect("agent.default_model", "a string such as \"local/…\"", using: ConfigTemplate.defaultModel) {
            $0.stringValue.map { !$0.isEmpty } ?? false
        }
        expect("agent.fallback_models", "a list of model names", using: "the strings in it") { isStringList($0) }
        expect("plugins.paths", "a list of folders", using: "the strings in it") { isStringList($0) }
        expect("plugins.disabled", "a list of plugin ids", using: "the strings in it") { isStringList($0) }
        let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
        expect("logging.level", "one of " + levels, using: "info") {
            $0.stringValue.map { Logger.Level(name: $0) != nil } ?? false
        }
        if strictPolicyIsMistyped {
            out.append("security.strict_policy must be true or false: read as true (a security switch fails closed)")
        }
        return out
    }
}
