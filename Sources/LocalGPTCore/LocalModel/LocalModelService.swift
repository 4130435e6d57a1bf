//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin
import Foundation
import Logging

/// The host extension `lgpt.host.local-model/1` (lgpt_plugin.h, docs/PLUGIN-ABI.md §4): a provider plugin asks the
/// host to run a local model server and gets its base URL.
enum LocalModelService {
    static let extensionID = LGPT_HOST_LOCAL_MODEL_V1

    /// The capability a manifest provider must declare to get the table.
    static let capability = "local_model"

    /// The static table (rule R5: lives for the life of the process).
    nonisolated(unsafe) static let staticTable: UnsafeMutablePointer<lgpt_host_local_model_v1> = {
        let p = UnsafeMutablePointer<lgpt_host_local_model_v1>.allocate(capacity: 1)
        p.initialize(
            to: lgpt_host_local_model_v1(
                struct_size: UInt32(MemoryLayout<lgpt_host_local_model_v1>.size),
                flags: 0,
                ensure: localModelEnsure,
                status: localModelStatus
            )
        )
        return p
    }()

    static func table(for plugin: LoadedPlugin) -> UnsafeRawPointer? {
        guard plugin.manifest.providers.contains(where: { $0.capabilities.contains(capability) }) else { return nil }
        return UnsafeRawPointer(staticTable)
    }
}

extension PluginHost {
    func serviceLocalModelEnsure(
        _ plugin: LoadedPlugin,
        call: lgpt_call,
        request text: String,
        out: UnsafePointer<lgpt_sink>
    ) -> lgpt_status {
        if let refused = outsideCall(plugin, service: "local_model.ensure", callID: call.call_id, out: out) {
            return refused
        }
        guard LocalModelService.table(for: plugin) != nil else {
            return deny(
                plugin,
                service: "local_model",
                what: "ensure",
                hint: "declare a provider with the capability \"local_model\"",
                out: out
            )
        }
        guard let req = try? JSONValue(parsing: text), case .object = req, let model = req["model"]?.stringValue else {
            return invalid("local_model.ensure: the request must be {\"model\": \"<name>\"}", out: out)
        }
        let timeout = req["timeout_ms"]?.intValue.map { Int(min(max($0, 1), 600_000)) }
        do {
            let server = try localModels.ensure(
                model: model,
                restart: req["restart"]?.boolValue ?? false,
                timeoutMilliseconds: timeout,
                isCancelled: { [self] in isCancelled(callID: call.call_id) }
            )
            let reply: JSONValue = [
                "base_url": .string(server.baseURL), "model": .string(server.model),
                "model_file": .string(server.modelFile), "pid": .int(Int64(server.pid)),
                "started": .bool(server.started), "startup_ms": .int(Int64(server.startupMilliseconds)),
            ]
            return write(reply.encoded(), to: out)
        } catch {
            let status: lgpt_status
            switch error.code {
            case .invalidName: status = LGPT_ERR_INVALID_ARGUMENT
            case .notInstalled: status = LGPT_ERR_NOT_FOUND
            case .timeout: status = LGPT_ERR_TIMEOUT
            case .cancelled: status = LGPT_ERR_CANCELLED
            default: status = LGPT_ERR_IO
            }
            logger.warning("local model unavailable: \(error.message)", metadata: ["plugin.id": "\(plugin.id)"])
            write(errorDocument(code: statusCode(status), message: error.message), to: out)
            return status
        }
    }

    func serviceLocalModelStatus(_ plugin: LoadedPlugin, out: UnsafePointer<lgpt_sink>) -> lgpt_status {
        guard LocalModelService.table(for: plugin) != nil else {
            return deny(
                plugin,
                service: "local_model",
                what: "status",
                hint: "declare a provider with the capability \"local_model\"",
                out: out
            )
        }
        return write(localModels.statusDocument().encoded(), to: out)
    }
}

extension LocalModelManager {
    /// `{"server": path|null, "models_dir": ..., "models": [...]}` (the extension's `status`).
    public func statusDocument() -> JSONValue {
        let running = Dictionary(running().map { ($0.model.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        let models: [JSONValue] = installedModels().map { m in
            let r = running.first { m.name.lowercased() == $0.key || m.name.lowercased().hasPrefix($0.key + "-") }?
                .value
            var o: [String: JSONValue] = [
                "name": .string(m.name), "file": .string(m.file), "bytes": .int(m.bytes), "running": .bool(r != nil),
            ]
            if let r { o["base_url"] = .string(r.baseURL) }
            return .object(o)
        }
        return [
            "server": isServerInstalled ? .string(serverBinary) : .null,
            "models_dir": .string(modelsDirectory),
            "models": .array(models),
        ]
    }
}

private let localModelEnsure:
    @convention(c) (
        UnsafeMutableRawPointer, UnsafePointer<lgpt_call>, UnsafePointer<CChar>, Int, UnsafePointer<lgpt_sink>
    ) -> lgpt_status = { ctx, call, req, len, out in
        let plugin = HostServices.plugin(ctx)
        return plugin.host.serviceLocalModelEnsure(
            plugin,
            call: call.pointee,
            request: HostServices.string(req, len),
            out: out
        )
    }

private let localModelStatus:
    @convention(c) (UnsafeMutableRawPointer, UnsafePointer<CChar>, Int, UnsafePointer<lgpt_sink>) -> lgpt_status = {
        ctx,
        _,
        _,
        out in
        let plugin = HostServices.plugin(ctx)
        return plugin.host.serviceLocalModelStatus(plugin, out: out)
    }
