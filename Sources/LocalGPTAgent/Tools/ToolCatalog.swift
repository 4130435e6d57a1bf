//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore

/// The tools the model gets: host tools first (memory, skills), then every plugin tool by its bare
/// name (a later plugin's tool with a name already taken is left out and logged).
public struct ToolCatalog: Sendable {
    public enum Target: Sendable {
        /// `<plugin id>/<tool>` through ``PluginHost/invoke(tool:arguments:callID:)``.
        case plugin(qualifiedName: String, pluginID: String)
        case host(any AgentHostTool)
    }

    public struct Entry: Sendable {
        public var name: String
        public var description: String
        public var parameters: JSONValue
        public var sideEffects: String
        public var target: Target
        /// The compiled schema of a host tool (plugin tools are validated by the plugin host).
        var schema: JSONSchema?
    }

    public private(set) var entries: [String: Entry] = [:]
    public private(set) var order: [String] = []
    /// Names left out because another tool had them.
    public private(set) var shadowed: [String] = []

    public init(plugins: [ToolDescriptor], hostTools: [any AgentHostTool], disabled: Set<String> = []) {
        for t in hostTools where !disabled.contains(t.name) {
            add(
                Entry(
                    name: t.name,
                    description: t.description,
                    parameters: t.parameters,
                    sideEffects: t.sideEffects,
                    target: .host(t),
                    schema: try? JSONSchema(t.parameters)
                )
            )
        }
        for t in plugins where !disabled.contains(t.name) && !disabled.contains(t.qualifiedName) {
            add(
                Entry(
                    name: t.name,
                    description: t.description,
                    parameters: t.parameters,
                    sideEffects: t.sideEffects,
                    target: .plugin(qualifiedName: t.qualifiedName, pluginID: t.pluginID),
                    schema: nil
                )
            )
        }
    }

    private mutating func add(_ e: Entry) {
        guard entries[e.name] == nil else {
            shadowed.append(e.name)
            return
        }
        entries[e.name] = e
        order.append(e.name)
    }

    public var names: [String] { order }

    public subscript(name: String) -> Entry? { entries[name] }

    /// The `tools` member of a request, without the blocked tools.
    public func specs(excluding blocked: Set<String> = []) -> [JSONValue] {
        order.compactMap { name in
            guard !blocked.contains(name), let e = entries[name] else { return nil }
            return .object([
                "name": .string(e.name), "description": .string(e.description), "parameters": e.parameters,
            ])
        }
    }
}
