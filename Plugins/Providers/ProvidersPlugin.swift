// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The C ABI surface of `org.localgpt.providers`: the exported entry, the descriptor, and `generate`, which parses
// the request and dispatches on the model's provider prefix.

import CLocalGPTPlugin

/// One created instance. Immutable after `create`, so concurrent generations share nothing mutable.
private final class ProvidersInstance {
    let host: HostBridge

    init(host: UnsafePointer<lgpt_host_v1>) {
        self.host = HostBridge(table: host)
    }
}

private func cString(_ string: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(string.utf8Start).assumingMemoryBound(to: CChar.self)
}

private func createInstance(
    _ host: UnsafePointer<lgpt_host_v1>,
    _ outInstance: UnsafeMutablePointer<UnsafeMutableRawPointer?>
) -> lgpt_status {
    outInstance.pointee = nil
    guard declaredSize(host) >= MemoryLayout<lgpt_host_v1>.size, host.pointee.abi_major == LGPT_ABI_MAJOR else {
        return LGPT_ERR_ABI_MISMATCH
    }
    outInstance.pointee = Unmanaged.passRetained(ProvidersInstance(host: host)).toOpaque()
    return LGPT_OK
}

private func destroyInstance(_ instance: UnsafeMutableRawPointer?) {
    guard let instance else { return }
    Unmanaged<ProvidersInstance>.fromOpaque(instance).release()
}

/// Runs one generation: every outcome ends with `done` or with an `error` event plus a negative status.
private func generate(
    _ instance: UnsafeMutableRawPointer?,
    _ call: UnsafePointer<lgpt_call>,
    _ requestBytes: UnsafePointer<CChar>,
    _ length: Int,
    _ events: UnsafePointer<lgpt_sink>
) -> lgpt_status {
    guard let instance, declaredSize(events) >= MemoryLayout<lgpt_sink>.size else { return LGPT_ERR_ABI_MISMATCH }
    let host = Unmanaged<ProvidersInstance>.fromOpaque(instance).takeUnretainedValue().host
    let emitter = EventEmitter(sink: events)
    let bytes = UnsafeRawBufferPointer(start: requestBytes, count: length).bindMemory(to: UInt8.self)
    do throws(ProviderFailure) {
        let json: JSON
        do {
            json = try JSON(parsing: bytes)
        } catch {
            throw ProviderFailure.invalid("the request is not JSON: \(error)")
        }
        let request = try GenerateRequest(json: json)
        let ctx = CallContext(host: host, call: call, events: emitter, settings: Settings(host: host))
        switch request.providerName {
        case "openai", "glm":
            let endpoint = try OpenAIProvider.endpoint(for: request.providerName, host: host)
            try OpenAIProvider.generate(ctx, request, endpoint: endpoint, model: request.modelName)
        case "anthropic":
            try AnthropicProvider.generate(ctx, request)
        case "ollama":
            try OllamaProvider.generate(ctx, request)
        case "claude-cli":
            try ClaudeCLIProvider.generate(ctx, request)
        case "local":
            try LocalProvider.generate(ctx, request)
        default:
            throw ProviderFailure.notFound(
                "no provider for \"\(request.model)\": use openai/, glm/, anthropic/, ollama/, claude-cli/ or local/"
            )
        }
        return emitter.stopped ? emitter.stopStatus : LGPT_OK
    } catch {
        if emitter.stopped { return emitter.stopStatus }
        if host.isCancelled(call) { return LGPT_ERR_CANCELLED }
        emitter.error(error)
        return error.status
    }
}

/// The descriptor, built once and never freed (rule R5).
nonisolated(unsafe) private let descriptor: UnsafeMutablePointer<lgpt_plugin_v1> = {
    let pointer = UnsafeMutablePointer<lgpt_plugin_v1>.allocate(capacity: 1)
    pointer.initialize(
        to: lgpt_plugin_v1(
            struct_size: UInt32(MemoryLayout<lgpt_plugin_v1>.size),
            abi_major: UInt32(LGPT_ABI_MAJOR),
            abi_minor: UInt32(LGPT_ABI_MINOR),
            kinds: LGPT_KIND_PROVIDER,
            id: cString(ProvidersManifest.id),
            version: cString(ProvidersManifest.version),
            manifest_json: cString(ProvidersManifest.json),
            create: { host, outInstance in createInstance(host, outInstance) },
            destroy: { instance in destroyInstance(instance) },
            invoke: nil,
            generate: { instance, call, request, length, events in generate(instance, call, request, length, events) },
            get_extension: nil
        )
    )
    return pointer
}()

/// The plugin's single exported symbol (rule R2): the descriptor for ABI major 1, otherwise `NULL`.
///
/// - Parameters:
///   - hostMajor: The host's ABI major version.
///   - hostMinor: The host's ABI minor version (any minor is served).
/// - Returns: The static descriptor, or `nil` for a major this plugin does not serve.
#if compiler(>=6.3)
@c(lgpt_plugin_entry_v1)
#else
@_cdecl("lgpt_plugin_entry_v1")
#endif
public func providersPluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafeRawPointer? {
    hostMajor == UInt32(LGPT_ABI_MAJOR) ? UnsafeRawPointer(descriptor) : nil
}
