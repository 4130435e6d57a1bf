// A small real HTTP/1.1 server on 127.0.0.1 for tests: POSIX sockets, one thread per connection,
// one request per connection (`Connection: close`). It answers whatever its handler returns: a whole
// body, a chunked body written piece by piece with pauses (to test streaming), or nothing at all.

import Foundation
import Glibc
import LocalGPTCore

/// A request as the ``LoopbackHTTPServer`` received it.
public struct LoopbackHTTPRequest: Sendable {
    /// The method, as sent: `"GET"`, `"POST"`, ...
    public var method: String
    /// The request target: the path with its query, `"/echo?x=1"`.
    public var path: String
    /// Header fields by lower-cased name; repeated fields joined with `", "`.
    public var headers: [String: String]
    /// The body (read according to `Content-Length`).
    public var body: [UInt8]

    /// The body decoded as UTF-8.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Creates a request.
    public init(method: String, path: String, headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// What the ``LoopbackHTTPServer`` answers.
public struct LoopbackHTTPResponse: Sendable {
    /// How the body is sent.
    public enum Body: Sendable {
        /// The whole body at once, with a `Content-Length`.
        case bytes([UInt8])
        /// `Transfer-Encoding: chunked`: one chunk per element, flushed, then a pause of
        /// `delayMilliseconds` before the next.
        case chunks([[UInt8]], delayMilliseconds: Int)
        /// Close the connection without sending anything.
        case closeWithoutAnswer
    }

    /// The status code.
    public var status: Int
    /// Header fields, sent in this order (`Content-Length`, `Transfer-Encoding` and `Connection` are
    /// added by the server).
    public var headers: [(name: String, value: String)]
    /// The body.
    public var body: Body
    /// A pause before anything is sent (to test timeouts). The pause ends early when the server stops.
    public var delayMilliseconds: Int
    /// Interim (1xx) responses sent before the final one, e.g. `(103, [("Link", "</a.css>")])`.
    public var interim: [(status: Int, headers: [(name: String, value: String)])]

    /// Creates a response.
    public init(
        status: Int = 200,
        headers: [(name: String, value: String)] = [],
        body: Body = .bytes([]),
        delayMilliseconds: Int = 0,
        interim: [(status: Int, headers: [(name: String, value: String)])] = []
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delayMilliseconds = delayMilliseconds
        self.interim = interim
    }

    /// A response with a text body.
    public init(
        status: Int = 200,
        headers: [(name: String, value: String)] = [],
        text: String,
        delayMilliseconds: Int = 0
    ) {
        self.init(
            status: status,
            headers: headers,
            body: .bytes(Array(text.utf8)),
            delayMilliseconds: delayMilliseconds
        )
    }
}

/// Why the ``LoopbackHTTPServer`` could not start.
public struct LoopbackHTTPServerError: Error, CustomStringConvertible {
    /// What failed, with the system's reason.
    public var description: String
}

/// A real HTTP/1.1 server on 127.0.0.1 with an ephemeral port, for tests.
///
/// Each connection gets its own thread, so a handler that blocks or a slow response does not hold up
/// other requests. The handler runs on that thread. `stop()` (also run by `deinit`) closes the listening
/// socket and every open connection.
public final class LoopbackHTTPServer: @unchecked Sendable {
    /// The port the server listens on.
    public var port: Int { core.port }
    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(core.port)" }

    private let core: LoopbackHTTPServerCore

    /// Starts listening on 127.0.0.1 with a port chosen by the system.
    ///
    /// - Throws: ``LoopbackHTTPServerError`` when the socket cannot be set up.
    public init(handler: @escaping @Sendable (LoopbackHTTPRequest) -> LoopbackHTTPResponse) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LoopbackHTTPServerError(description: "socket: \(systemErrorText())") }
        var yes: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        guard bindLoopback(fd), listen(fd, 64) == 0, let port = localPort(of: fd) else {
            let reason = systemErrorText()
            close(fd)
            throw LoopbackHTTPServerError(description: "bind/listen on 127.0.0.1: \(reason)")
        }
        core = LoopbackHTTPServerCore(listener: fd, port: port, handler: handler)
        let core = core
        detachThread(named: "LoopbackHTTPServer:\(port)") { core.acceptLoop() }
    }

    deinit { core.stop() }

    /// The requests received so far, in order of arrival (complete requests only).
    public var requests: [LoopbackHTTPRequest] { core.lock.withLock { core.received } }

    /// How many connections were accepted so far, whether a complete request arrived on them or not.
    public var acceptedConnections: Int { core.lock.withLock { core.connectionCount } }

    /// Stops accepting, closes open connections, and returns once the accept loop has ended. Idempotent.
    public func stop() { core.stop() }

    /// Runs `body` with a port on 127.0.0.1 on which connections are refused: a socket is bound to it
    /// (so no one else gets it) but does not listen.
    ///
    /// - Throws: ``LoopbackHTTPServerError`` when the socket cannot be set up, or what `body` throws.
    public static func withRefusingPort<R>(_ body: (Int) throws -> R) throws -> R {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LoopbackHTTPServerError(description: "socket: \(systemErrorText())") }
        defer { close(fd) }
        guard bindLoopback(fd), let port = localPort(of: fd) else {
            throw LoopbackHTTPServerError(description: "bind on 127.0.0.1: \(systemErrorText())")
        }
        return try body(port)
    }
}

private func bindLoopback(_ fd: Int32) -> Bool {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

private func localPort(of fd: Int32) -> Int? {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let status = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard status == 0 else { return nil }
    return Int(UInt16(bigEndian: address.sin_port))
}

private func systemErrorText() -> String { String(cString: strerror(errno)) }

/// The server's state, shared by its threads (which must not keep the public object alive, so that
/// `deinit` can stop them).
private final class LoopbackHTTPServerCore: @unchecked Sendable {
    let listener: Int32
    let port: Int
    let handler: @Sendable (LoopbackHTTPRequest) -> LoopbackHTTPResponse
    /// Guards everything below, and the closing of connection descriptors.
    let lock = NSLock()
    var stopped = false
    var connections: Set<Int32> = []
    var received: [LoopbackHTTPRequest] = []
    var connectionCount = 0
    let acceptLoopDone = DispatchSemaphore(value: 0)

    init(listener: Int32, port: Int, handler: @escaping @Sendable (LoopbackHTTPRequest) -> LoopbackHTTPResponse) {
        self.listener = listener
        self.port = port
        self.handler = handler
    }

    func stop() {
        let wasRunning: Bool = lock.withLock {
            if stopped { return false }
            stopped = true
            // shutdown() wakes a thread blocked in accept() or recv() without freeing the descriptor;
            // connection descriptors are closed by their threads, under this lock, so none of these
            // can have been closed and reused.
            _ = shutdown(listener, Int32(SHUT_RDWR))
            for fd in connections { _ = shutdown(fd, Int32(SHUT_RDWR)) }
            return true
        }
        guard wasRunning else { return }
        acceptLoopDone.wait()
        close(listener)
    }

    // MARK: - Accepting

    private var isStopped: Bool { lock.withLock { stopped } }

    func acceptLoop() {
        defer { acceptLoopDone.signal() }
        while true {
            // accept4 is not visible without _GNU_SOURCE; a fork between accept and fcntl would only leak
            // a test socket into a child.
            let fd = accept(listener, nil, nil)
            if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if isStopped { return }
                // Out of descriptors or similar: back off rather than spin.
                usleep(10_000)
                continue
            }
            let accepted: Bool = lock.withLock {
                if stopped { return false }
                connections.insert(fd)
                connectionCount += 1
                return true
            }
            guard accepted else {
                close(fd)
                return
            }
            detachThread(named: "LoopbackHTTPServer:\(port):connection") { [self] in
                serve(fd)
                lock.withLock {
                    connections.remove(fd)
                    close(fd)
                }
            }
        }
    }

    // MARK: - One connection

    private func serve(_ fd: Int32) {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let request = readRequest(fd) else { return }
        lock.withLock { received.append(request) }
        let response = handler(request)
        if response.delayMilliseconds > 0 && !pause(milliseconds: response.delayMilliseconds) { return }
        switch response.body {
        case .closeWithoutAnswer:
            return
        case .bytes(let bytes):
            var head = interimHeads(response)
            head += statusLine(response.status) + headerLines(response.headers)
            head += "Content-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
            guard send(fd, Array(head.utf8)) else { return }
            if request.method != "HEAD" { _ = send(fd, bytes) }
        case .chunks(let chunks, let delay):
            var head = interimHeads(response)
            head += statusLine(response.status) + headerLines(response.headers)
            head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            guard send(fd, Array(head.utf8)) else { return }
            for (index, chunk) in chunks.enumerated() where !chunk.isEmpty {
                if index > 0 && delay > 0 && !pause(milliseconds: delay) { return }
                let frame = Array(String(chunk.count, radix: 16).utf8) + [13, 10] + chunk + [13, 10]
                guard send(fd, frame) else { return }
            }
            _ = send(fd, Array("0\r\n\r\n".utf8))
        }
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads one request: head up to the empty line, then a `Content-Length` body. nil when the peer
    /// closed early or sent something unreadable.
    private func readRequest(_ fd: Int32) -> LoopbackHTTPRequest? {
        var buffer: [UInt8] = []
        let terminator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            guard buffer.count < 256 * 1024, let more = receive(fd) else { return nil }
            let searchFrom = max(0, buffer.count - 3)
            buffer += more
            headEnd = Self.find(terminator, in: buffer, from: searchFrom)
        }
        guard let headEnd else { return nil }
        let headText = String(decoding: buffer[..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: true)
        guard requestLine.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        var body = Array(buffer[(headEnd + 4)...])
        let length = headers["content-length"].flatMap { Int($0) } ?? 0
        if length > body.count && headers["expect"]?.lowercased() == "100-continue" {
            guard send(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
        }
        while body.count < length {
            guard let more = receive(fd) else { return nil }
            body += more
        }
        return LoopbackHTTPRequest(
            method: String(requestLine[0]),
            path: String(requestLine[1]),
            headers: headers,
            body: Array(body.prefix(length))
        )
    }

    private func interimHeads(_ response: LoopbackHTTPResponse) -> String {
        response.interim.map { statusLine($0.status) + headerLines($0.headers) + "\r\n" }.joined()
    }

    private func statusLine(_ status: Int) -> String {
        let reasons = [
            100: "Continue", 103: "Early Hints", 200: "OK", 201: "Created", 204: "No Content",
            301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
            308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            500: "Internal Server Error",
        ]
        return "HTTP/1.1 \(status) \(reasons[status] ?? "Status")\r\n"
    }

    private func headerLines(_ headers: [(name: String, value: String)]) -> String {
        headers.map { "\($0.name): \($0.value)\r\n" }.joined()
    }

    /// Sleeps in small steps; false when the server stopped meanwhile.
    private func pause(milliseconds: Int) -> Bool {
        let deadline = DispatchTime.now() + .milliseconds(milliseconds)
        while DispatchTime.now() < deadline {
            if isStopped { return false }
            usleep(5_000)
        }
        return !isStopped
    }

    private func receive(_ fd: Int32) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { return Array(chunk.prefix(n)) }
            if n < 0 && errno == EINTR { continue }
            return nil
        }
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = start
        while i + needle.count <= haystack.count {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
