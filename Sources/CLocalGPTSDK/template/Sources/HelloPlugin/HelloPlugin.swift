// A LocalGPT tool plugin in Swift, written by `localgpt plugin sdk` as a starting point.
//
// It offers one tool, `hello`, which greets the name it is given. Change the id, the manifest and the tools,
// then build, package and install it (docs/PLUGIN-ABI.md, "Writing a plugin in Swift"):
//
//     swift build -c release
//     localgpt plugin package .build/release/libHelloPlugin.so --out hello/
//     localgpt plugin install hello/
//     localgpt tool call hello --args '{"name": "Ada"}'
//
// The top half is the tools, in plain Swift; the bottom half is the C ABI (lgpt_plugin.h): the descriptor,
// its callbacks and the one exported function. No Swift type or error crosses that boundary.

import CLocalGPTPlugin
import FoundationEssentials

// MARK: - The manifest

/// The plugin's identity and manifest as static NUL-terminated strings: the host reads them for as long as the
/// library is loaded. `id` and `version` must equal the manifest's; `localgpt plugin package` writes plugin.json
/// from the manifest.
private enum Manifest {
    static let id: StaticString = "org.example.hello"
    static let version: StaticString = "0.1.0"
    static let json: StaticString = #"""
        {
          "id": "org.example.hello",
          "name": "Hello",
          "version": "0.1.0",
          "description": "Greets someone by name.",
          "abi": {"major": 1, "minor": 0},
          "kinds": ["tool"],
          "concurrency": "parallel",
          "tools": [{
            "name": "hello",
            "description": "Greets someone by name.",
            "parameters": {
              "type": "object",
              "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
              "required": ["name"],
              "additionalProperties": false
            },
            "side_effects": "none"
          }],
          "permissions": {}
        }
        """#
}

// MARK: - The tools

/// A tool's failure: the status the call returns and the error document the host shows.
private struct ToolFailure: Error {
    var status: lgpt_status
    var code: String
    var message: String
}

private struct HelloArguments: Decodable {
    var name: String
}

private struct HelloResult: Encodable {
    var greeting: String
}

/// Runs the tool `name`. The host has already checked `arguments` against the tool's `parameters` schema: here
/// they are a JSON object with one string member `name`, 1 to 200 characters long.
private func runTool(_ name: String, arguments: Data) throws(ToolFailure) -> Data {
    switch name {
    case "hello":
        let input = try decode(HelloArguments.self, from: arguments)
        return try encode(HelloResult(greeting: "Hello, \(input.name)!"))
    default:
        throw ToolFailure(status: LGPT_ERR_NOT_FOUND, code: "not_found", message: "no tool named \(name)")
    }
}

private func decode<T: Decodable>(_ type: T.Type, from json: Data) throws(ToolFailure) -> T {
    do {
        return try JSONDecoder().decode(type, from: json)
    } catch {
        throw ToolFailure(status: LGPT_ERR_INVALID_ARGUMENT, code: "invalid_argument", message: "\(error)")
    }
}

private func encode<T: Encodable>(_ value: T) throws(ToolFailure) -> Data {
    do {
        return try JSONEncoder().encode(value)
    } catch {
        throw ToolFailure(status: LGPT_ERR_INTERNAL, code: "internal", message: "\(error)")
    }
}

/// `{"error": {"code": ..., "message": ...}}`, the error document of the ABI (rule R7).
private func errorDocument(_ failure: ToolFailure) -> Data {
    struct Document: Encodable {
        struct Body: Encodable {
            var code: String
            var message: String
        }
        var error: Body
    }
    let document = Document(error: .init(code: failure.code, message: failure.message))
    return (try? JSONEncoder().encode(document)) ?? Data(#"{"error":{"code":"internal","message":""}}"#.utf8)
}

// MARK: - The C ABI

/// One created instance. Immutable after `create`, so calls running at the same time share nothing mutable.
private final class Instance {
    /// The host's service table, valid until `destroy` returns.
    let host: UnsafePointer<lgpt_host_v1>

    init(host: UnsafePointer<lgpt_host_v1>) {
        self.host = host
    }

    func log(_ level: Int32, _ message: String) {
        message.withCString { text in
            host.pointee.log(host.pointee.host_ctx, level, text, message.utf8.count)
        }
    }
}

private func cString(_ string: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(string.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Writes one document to a sink; a status other than `LGPT_OK` means stop and return it (rule R8).
private func write(_ data: Data, to sink: UnsafePointer<lgpt_sink>) -> lgpt_status {
    data.withUnsafeBytes { bytes in
        sink.pointee.write(sink.pointee.ctx, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }
}

private func create(
    _ host: UnsafePointer<lgpt_host_v1>,
    _ outInstance: UnsafeMutablePointer<UnsafeMutableRawPointer?>
) -> lgpt_status {
    outInstance.pointee = nil
    // Every ABI struct starts with the size its writer compiled (rule R1): read nothing beyond it.
    guard UnsafeRawPointer(host).load(as: UInt32.self) >= MemoryLayout<lgpt_host_v1>.size,
        host.pointee.abi_major == LGPT_ABI_MAJOR
    else {
        return LGPT_ERR_ABI_MISMATCH
    }
    let instance = Instance(host: host)
    instance.log(LGPT_LOG_INFO, "hello plugin ready")
    outInstance.pointee = Unmanaged.passRetained(instance).toOpaque()
    return LGPT_OK
}

private func destroy(_ instance: UnsafeMutableRawPointer?) {
    guard let instance else { return }
    Unmanaged<Instance>.fromOpaque(instance).release()
}

private func invoke(
    _ name: UnsafePointer<CChar>,
    _ arguments: UnsafePointer<CChar>,
    _ argumentsLength: Int,
    _ out: UnsafePointer<lgpt_sink>
) -> lgpt_status {
    let json = Data(bytes: arguments, count: argumentsLength)
    do {
        return write(try runTool(String(cString: name), arguments: json), to: out)
    } catch {
        let status = write(errorDocument(error), to: out)
        return status == LGPT_OK ? error.status : status
    }
}

/// The descriptor: built once (Swift initialises globals thread-safely) and never freed (rule R5).
nonisolated(unsafe) private let descriptor: UnsafeMutablePointer<lgpt_plugin_v1> = {
    let pointer = UnsafeMutablePointer<lgpt_plugin_v1>.allocate(capacity: 1)
    pointer.initialize(
        to: lgpt_plugin_v1(
            struct_size: UInt32(MemoryLayout<lgpt_plugin_v1>.size),
            abi_major: UInt32(LGPT_ABI_MAJOR),
            abi_minor: UInt32(LGPT_ABI_MINOR),
            kinds: LGPT_KIND_TOOL,
            id: cString(Manifest.id),
            version: cString(Manifest.version),
            manifest_json: cString(Manifest.json),
            create: { host, outInstance in create(host, outInstance) },
            destroy: { instance in destroy(instance) },
            invoke: { _, _, name, arguments, argumentsLength, out in invoke(name, arguments, argumentsLength, out) },
            generate: nil,
            get_extension: nil
        )
    )
    return pointer
}()

/// The library's one exported symbol (rule R2): the descriptor for ABI major 1, otherwise `nil`. It must be
/// `public`, or the symbol stays local to the library and the host cannot find it.
#if compiler(>=6.3)
@c(lgpt_plugin_entry_v1)
#else
@_cdecl("lgpt_plugin_entry_v1")
#endif
public func helloPluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<lgpt_plugin_v1>? {
    hostMajor == UInt32(LGPT_ABI_MAJOR) ? UnsafePointer(descriptor) : nil
}
