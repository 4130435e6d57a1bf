// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// Framing of streamed response bodies (SSE and NDJSON), and one streamed HTTP exchange with the error handling
// every HTTP provider shares: status codes, error bodies, Retry-After, a size cap, cancellation.

import CLocalGPTPlugin

/// Splits a byte stream into lines (LF or CRLF), across chunk boundaries. UTF-8 sequences split between
/// chunks are reassembled because lines are decoded whole.
struct LineSplitter {
    private var pending: [UInt8] = []

    /// Feeds a chunk; `onLine` receives each complete line without its terminator and returns false to stop.
    /// Returns false when `onLine` did.
    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ onLine: (String) -> Bool) -> Bool {
        var start = 0
        for i in 0..<chunk.count where chunk[i] == 0x0A {
            var line = pending
            line.append(contentsOf: chunk[start..<i])
            pending.removeAll(keepingCapacity: true)
            if line.last == 0x0D { line.removeLast() }
            start = i + 1
            if !onLine(String(decoding: line, as: UTF8.self)) { return false }
        }
        if start < chunk.count { pending.append(contentsOf: chunk[start..<chunk.count]) }
        return true
    }

    /// The unterminated rest, if any (a stream cut mid-line).
    mutating func finish() -> String? {
        defer { pending.removeAll() }
        guard !pending.isEmpty else { return nil }
        return String(decoding: pending, as: UTF8.self)
    }

    var hasPending: Bool { !pending.isEmpty }
}

/// One server-sent event.
struct SSEEvent {
    var event: String?
    var data: String
}

/// Parses `text/event-stream` (WHATWG HTML §9.2): `event:` and `data:` fields, events ended by a blank line,
/// multi-line data joined with newlines, comments (`:`) ignored.
struct SSEParser {
    private var lines = LineSplitter()
    private var event: String?
    private var data: [String] = []
    private var hasData = false

    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ onEvent: (SSEEvent) -> Bool) -> Bool {
        var collected: [String] = []
        _ = lines.feed(chunk) { line in
            collected.append(line)
            return true
        }
        for line in collected where !handle(line, onEvent) { return false }
        return true
    }

    /// Dispatches a final event that was not followed by a blank line. Returns false when `onEvent` did.
    mutating func finish(_ onEvent: (SSEEvent) -> Bool) -> Bool {
        if let rest = lines.finish(), !handle(rest, onEvent) { return false }
        return dispatch(onEvent)
    }

    private mutating func handle(_ line: String, _ onEvent: (SSEEvent) -> Bool) -> Bool {
        if line.isEmpty { return dispatch(onEvent) }
        if line.hasPrefix(":") { return true }
        var field = Substring(line)
        var value = Substring("")
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        }
        switch field {
        case "event": event = String(value)
        case "data":
            data.append(String(value))
            hasData = true
        default: break
        }
        return true
    }

    private mutating func dispatch(_ onEvent: (SSEEvent) -> Bool) -> Bool {
        defer {
            event = nil
            data.removeAll()
            hasData = false
        }
        guard hasData else { return true }
        return onEvent(SSEEvent(event: event, data: data.joined(separator: "\n")))
    }
}

/// How a streamed exchange ended.
enum StreamEnd {
    /// The body ended (the server closed it); the handler saw every byte.
    case complete
    /// The handler asked to stop (it saw what it needed, e.g. `[DONE]`).
    case stoppedByHandler
}

extension CallContext {
    /// POSTs `body` (JSON) to `url` and streams a 2xx response body to `onBody` (false stops early). A non-2xx
    /// status, a body over the size cap, a cancellation or a transport failure throws the matching failure.
    ///
    /// - Parameters:
    ///   - providerLabel: Names the service in messages ("OpenAI", "Anthropic").
    ///   - url: The endpoint.
    ///   - headers: Request headers (the API key among them: never logged).
    ///   - body: The JSON body.
    ///   - onBody: Receives each chunk of a 2xx body; false stops reading.
    /// - Returns: Whether the body ended or the handler stopped it.
    /// - Throws: ``ProviderFailure``.
    func postStreaming(
        providerLabel: String,
        url: String,
        headers: [String: String],
        body: JSON,
        onBody: @escaping (UnsafeRawBufferPointer) -> Bool
    ) throws(ProviderFailure) -> StreamEnd {
        final class State {
            var httpStatus = 0
            var errorBody: [UInt8] = []
            var received = 0
            var tooLarge = false
            var handlerStopped = false
        }
        let state = State()
        let limit = settings.maxResponseBytes
        var allHeaders = headers
        allHeaders["Content-Type"] = "application/json"
        let outcome = host.http(
            call,
            method: "POST",
            url: url,
            headers: allHeaders,
            body: body.encoded(keyOrder: JSON.naturalKeyOrder),
            timeoutMilliseconds: settings.timeoutMilliseconds,
            onHead: { status, _ in
                state.httpStatus = status
                return true
            },
            onBody: { chunk in
                state.received += chunk.count
                if state.received > limit {
                    state.tooLarge = true
                    return false
                }
                if !(200..<300).contains(state.httpStatus) {
                    if state.errorBody.count < 64 << 10 { state.errorBody.append(contentsOf: chunk.prefix(64 << 10)) }
                    return true
                }
                if !onBody(chunk) {
                    state.handlerStopped = true
                    return false
                }
                return true
            }
        )
        if state.tooLarge {
            throw .io("\(providerLabel) sent more than \(limit / (1 << 20)) MiB; the response was cut off")
        }
        if events.stopped { throw .cancelled() }
        if state.handlerStopped { return .stoppedByHandler }
        if outcome.status != LGPT_OK {
            if host.isCancelled(call) || outcome.status == LGPT_ERR_CANCELLED { throw .cancelled() }
            let reason = outcome.errorMessage ?? "the request failed"
            if outcome.status == LGPT_ERR_TIMEOUT {
                // Reachable, but slower than providers.timeout_ms: "unreachable" sent users to their network.
                throw .fromHost(
                    outcome.status,
                    "\(providerLabel) did not answer in time (providers.timeout_ms): \(reason)"
                )
            }
            if outcome.httpStatus == 0 {
                throw .fromHost(outcome.status, "\(providerLabel) is unreachable: \(reason)")
            }
            throw .fromHost(outcome.status, "\(providerLabel): the response broke off: \(reason)")
        }
        if !(200..<300).contains(outcome.httpStatus) {
            throw Self.httpFailure(
                providerLabel: providerLabel,
                status: outcome.httpStatus,
                headers: outcome.headers,
                body: state.errorBody
            )
        }
        return .complete
    }

    /// POSTs JSON and returns the whole 2xx response parsed as JSON.
    ///
    /// - Throws: ``ProviderFailure``, also when the body is not JSON.
    func postJSON(
        providerLabel: String,
        url: String,
        headers: [String: String],
        body: JSON
    ) throws(ProviderFailure)
        -> JSON
    {
        final class Box { var bytes: [UInt8] = [] }
        let box = Box()
        _ = try postStreaming(providerLabel: providerLabel, url: url, headers: headers, body: body) { chunk in
            box.bytes.append(contentsOf: chunk)
            return true
        }
        do {
            return try JSON(parsing: box.bytes)
        } catch {
            throw .io("\(providerLabel) sent a response that is not JSON (\(error))")
        }
    }

    /// The failure for an HTTP error status: 429 is RATE_LIMITED with the Retry-After, 5xx is IO, 401/403 is
    /// PERMISSION_DENIED, 404 NOT_FOUND, other 4xx INVALID_ARGUMENT. The server's own message is kept (bounded).
    static func httpFailure(
        providerLabel: String,
        status: Int,
        headers: [String: String],
        body: [UInt8]
    )
        -> ProviderFailure
    {
        let detail = serverMessage(body)
        var message = "\(providerLabel) answered HTTP \(status)"
        if !detail.isEmpty { message += ": " + detail }
        var failure: ProviderFailure
        switch status {
        case 429:
            failure = ProviderFailure(status: LGPT_ERR_RATE_LIMITED, code: "rate_limited", message: message)
            if let retry = retryAfterMilliseconds(headers) {
                failure.retryAfterMilliseconds = retry
                failure.message += " (retry after \(formatSeconds(retry)))"
            }
        case 401, 403:
            failure = .denied(message + " (check the API key)")
        case 404:
            failure = .notFound(message)
        case 408:
            failure = .timeout(message)
        case 500..<600:
            failure = .io(message)
            if let retry = retryAfterMilliseconds(headers) { failure.retryAfterMilliseconds = retry }
        default:
            failure = .invalid(message)
        }
        failure.httpStatus = status
        return failure
    }

    /// The error message in a JSON error body (`{"error": {"message": ...}}`, `{"error": "..."}`,
    /// `{"message": ...}`), else the start of the text.
    static func serverMessage(_ body: [UInt8]) -> String {
        if let doc = try? JSON(parsing: body) {
            if let m = doc["error"]?["message"]?.string { return clip(m) }
            if let m = doc["error"]?.string { return clip(m) }
            if let m = doc["message"]?.string { return clip(m) }
            if let m = doc["detail"]?.string { return clip(m) }
        }
        return clip(String(decoding: body.prefix(300), as: UTF8.self).trimmingSpaces)
    }

    static func clip(_ s: String, _ limit: Int = 300) -> String {
        s.count <= limit ? s : String(s.prefix(limit)) + "…"
    }

    /// Retry-After (seconds or an HTTP date, here only seconds), or `retry-after-ms`.
    static func retryAfterMilliseconds(_ headers: [String: String]) -> Int? {
        if let ms = headers["retry-after-ms"].flatMap({ Double($0.trimmingSpaces) }), ms >= 0 { return Int(ms) }
        if let s = headers["retry-after"].flatMap({ Double($0.trimmingSpaces) }), s >= 0 { return Int(s * 1000) }
        return nil
    }

    static func formatSeconds(_ ms: Int) -> String {
        ms % 1000 == 0 ? "\(ms / 1000) s" : "\(Double(ms) / 1000) s"
    }
}
