// The host's HTTP client: the one path through which the host and its plugins reach the network.
//
// The transfer itself happens in C (CLocalGPTHTTP, lgpt_http_perform over libcurl): one request, one
// response, http and https only, no proxy, no redirects. This file adds what policy needs to see:
// redirects are followed here, one hop at a time, so that every hop can be checked (`allowRedirect`) and
// every connected address too (`allowAddress`), and so that credentials never follow a redirect to
// another origin.

import CLocalGPTHTTP

/// An HTTP request for ``HTTPClient``.
public struct HTTPRequest: Sendable {
    /// The default limit on a whole exchange: 60 seconds.
    public static let defaultTimeoutMilliseconds = 60_000
    /// The default limit on establishing each connection: 10 seconds.
    public static let defaultConnectTimeoutMilliseconds = 10_000
    /// The default number of redirects followed: 5.
    public static let defaultMaxRedirects = 5

    /// The method, an HTTP token, case-sensitive: `GET`, `POST`, `HEAD`, `PUT`, `PATCH`, `DELETE`, ...
    public var method: String
    /// An absolute `http://` or `https://` URL.
    public var url: String
    /// Header fields, sent in this order. Names are HTTP tokens (matched case-insensitively); values may
    /// be empty and must not contain CR, LF or NUL. `Host` and `Content-Length` are computed: do not set
    /// them.
    public var headers: [(name: String, value: String)]
    /// The body, sent with a `Content-Length` when not empty, and always for POST, PUT and PATCH.
    /// Must be empty for HEAD.
    public var body: [UInt8]
    /// The limit on the whole exchange, redirects included, in milliseconds; 0 means none.
    public var timeoutMilliseconds: Int
    /// The limit on name resolution plus TCP and TLS connection, per hop, in milliseconds; 0 means
    /// curl's default (300 s).
    public var connectTimeoutMilliseconds: Int
    /// How many redirects are followed at most; one more fails with ``HTTPClientError/Code/tooManyRedirects``.
    public var maxRedirects: Int
    /// The most body bytes accepted; a longer body fails with ``HTTPClientError/Code/tooLarge``. nil
    /// means no limit.
    public var maxBodyBytes: Int?

    /// Creates a request.
    public init(
        method: String = "GET",
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        timeoutMilliseconds: Int = HTTPRequest.defaultTimeoutMilliseconds,
        connectTimeoutMilliseconds: Int = HTTPRequest.defaultConnectTimeoutMilliseconds,
        maxRedirects: Int = HTTPRequest.defaultMaxRedirects,
        maxBodyBytes: Int? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.maxRedirects = maxRedirects
        self.maxBodyBytes = maxBodyBytes
    }
}

/// The head of the final response: status, headers, and where it came from.
public struct HTTPResponseHead: Sendable, Hashable {
    /// The status code. Any status, 404 and 500 included, is a response, not an error.
    public var status: Int
    /// Header fields by lower-cased name; the values of a repeated field are joined with `", "`.
    public var headers: [String: String]
    /// The URL that answered: the request's URL, or where the redirects led.
    public var url: String
    /// The IP address connected to, as text (`"127.0.0.1"`, `"::1"`).
    public var remoteAddress: String

    /// Creates a response head (useful for test doubles).
    public init(status: Int, headers: [String: String] = [:], url: String, remoteAddress: String = "") {
        self.status = status
        self.headers = headers
        self.url = url
        self.remoteAddress = remoteAddress
    }

    /// The value of a header field, by case-insensitive name.
    public subscript(header name: String) -> String? { headers[name.lowercased()] }
}

/// A complete response, as ``HTTPClient/fetch(_:allowRedirect:allowAddress:isCancelled:)`` returns it.
public struct HTTPResponse: Sendable, Hashable {
    /// The head of the final response.
    public var head: HTTPResponseHead
    /// The whole body.
    public var body: [UInt8]

    /// Creates a response (useful for test doubles).
    public init(head: HTTPResponseHead, body: [UInt8]) {
        self.head = head
        self.body = body
    }
}

/// Why an HTTP exchange failed. Messages name the method and the origin (`https://host:port`), never
/// the path or query, the header values or the body: those may hold credentials.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Hashable, Sendable {
            case invalidURL
            case unsupportedScheme
            case invalidRequest
            case dns
            case connect
            case tls
            case timeout
            case cancelled
            case tooLarge
            case addressRefused
            case tooManyRedirects
            case redirectRefused
            case other
        }

        private let kind: Kind

        private init(_ kind: Kind) { self.kind = kind }

        /// The URL (or a redirect's `Location`) does not parse, or has no host.
        public static let invalidURL = Code(.invalidURL)
        /// The URL's scheme is not http or https (`file:`, `ftp:`, ...).
        public static let unsupportedScheme = Code(.unsupportedScheme)
        /// A malformed method or header field, a HEAD with a body, or a negative limit.
        public static let invalidRequest = Code(.invalidRequest)
        /// The host name did not resolve.
        public static let dns = Code(.dns)
        /// No connection: refused, unreachable.
        public static let connect = Code(.connect)
        /// The TLS handshake or the certificate verification failed.
        public static let tls = Code(.tls)
        /// The request's timeout (or connect timeout) passed.
        public static let timeout = Code(.timeout)
        /// `isCancelled` returned true, or `onHead` or `onBody` returned false.
        public static let cancelled = Code(.cancelled)
        /// The body exceeded the request's `maxBodyBytes` (or the head was absurdly large).
        public static let tooLarge = Code(.tooLarge)
        /// `allowAddress` refused the address the host name resolved to; nothing was sent.
        public static let addressRefused = Code(.addressRefused)
        /// More redirects than the request's `maxRedirects`.
        public static let tooManyRedirects = Code(.tooManyRedirects)
        /// `allowRedirect` refused a redirect.
        public static let redirectRefused = Code(.redirectRefused)
        /// Anything else: the connection was reset, the server sent no or a malformed response, ...
        public static let other = Code(.other)

        public var description: String { kind.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation naming the origin.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// The scheme, host and port of an absolute URL, as ``HTTPClient`` (that is, libcurl) parses it.
///
/// Check permissions on the origin this type computes, not on one from another URL parser, so that the
/// check and the request cannot disagree about which host is contacted.
public struct HTTPOrigin: Sendable, Hashable, CustomStringConvertible {
    /// The scheme, lower-cased: `"https"`.
    public var scheme: String
    /// The host, lower-cased; an IPv6 literal keeps its brackets: `"[::1]"`.
    public var host: String
    /// The port: explicit, or the scheme's default (80 for http, 443 for https); 0 when unknown.
    public var port: Int
    /// Whether the URL spells the port out.
    public var isPortExplicit: Bool

    /// Parses an absolute URL of any scheme; nil when it does not parse or has no host.
    public init?(url: String) {
        var parts = lgpt_http_url_parts()
        guard !url.utf8.contains(0), url.withCString({ lgpt_http_url_parse($0, &parts) }) == 0 else { return nil }
        scheme = withUnsafeBytes(of: parts.scheme) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        host = withUnsafeBytes(of: parts.host) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            .lowercased()
        port = Int(parts.port)
        isPortExplicit = parts.port_is_explicit != 0
    }

    /// `scheme://host`, plus `:port` when the URL spells it out.
    public var description: String { isPortExplicit ? "\(scheme)://\(host):\(port)" : "\(scheme)://\(host)" }

    /// Same origin: equal scheme, host and port (whether the port was explicit does not matter).
    public static func == (a: HTTPOrigin, b: HTTPOrigin) -> Bool {
        a.scheme == b.scheme && a.host == b.host && a.port == b.port
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(scheme)
        hasher.combine(host)
        hasher.combine(port)
    }
}

/// Performs HTTP(S) requests through libcurl, streaming the response.
///
/// Every exchange uses fresh connections (no pooling), goes directly to the server (the environment's
/// proxy variables are ignored), verifies TLS certificates, and accepts only http and https, also as
/// redirect targets.
public struct HTTPClient: Sendable {
    /// The (lower-cased) request headers kept when a redirect leads to another origin (another scheme,
    /// host or port). All others, `Authorization`, `Cookie` and API-key headers among them, are dropped.
    public static let headersKeptAcrossOrigins: Set<String> = [
        "accept", "accept-encoding", "accept-language", "cache-control", "content-language", "content-type",
        "user-agent",
    ]

    /// The statuses that are followed as redirects when the response has a `Location`.
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    /// Creates a client.
    public init() {}

    /// Performs a request and streams the response to `onHead` and `onBody`.
    ///
    /// Blocking: call it from a thread that may block (not from a task on the cooperative pool without
    /// handing off). Any status is a response: a 404 or a 500 returns normally.
    ///
    /// Redirects (301, 302, 303, 307, 308 with a `Location`) are followed up to `request.maxRedirects`
    /// times: a relative `Location` is resolved against the current URL; 301, 302 and 303 continue as a
    /// GET without body (HEAD stays HEAD), 307 and 308 keep the method and body; a hop to another origin
    /// keeps only ``headersKeptAcrossOrigins``. The body of a redirect response is not read.
    ///
    /// - Parameters:
    ///   - request: What to send.
    ///   - allowRedirect: Asked with the absolute target URL before each redirect is followed; false
    ///     fails with ``HTTPClientError/Code/redirectRefused``.
    ///   - allowAddress: Asked with the IP address of each connection once it is established and before
    ///     anything is sent (so after name resolution); false fails with
    ///     ``HTTPClientError/Code/addressRefused``.
    ///   - isCancelled: Polled at least every 100 ms; true fails with ``HTTPClientError/Code/cancelled``.
    ///   - onHead: Called exactly once when the final response arrives (never for redirects or 1xx
    ///     responses), before any body byte, also when the body is empty; not called when the exchange
    ///     fails before that. Returning false stops the exchange with ``HTTPClientError/Code/cancelled``.
    ///   - onBody: Called for each piece of the body as it arrives; the buffer is valid only during the
    ///     call. Returning false stops the exchange with ``HTTPClientError/Code/cancelled``.
    /// - Returns: The head of the final response, as given to `onHead`.
    /// - Throws: ``HTTPClientError`` when the exchange failed or was stopped (see its codes).
    public func perform(
        _ request: HTTPRequest,
        allowRedirect: (String) -> Bool = { _ in true },
        allowAddress: (String) -> Bool = { _ in true },
        isCancelled: () -> Bool = { false },
        onHead: (HTTPResponseHead) -> Bool,
        onBody: (UnsafeRawBufferPointer) -> Bool
    ) throws(HTTPClientError) -> HTTPResponseHead {
        try Self.validate(request)
        let result = withoutActuallyEscaping(isCancelled) { isCancelled in
            withoutActuallyEscaping(allowAddress) { allowAddress in
                withoutActuallyEscaping(onHead) { onHead in
                    withoutActuallyEscaping(onBody) { onBody in
                        let exchange = Exchange(
                            isCancelled: isCancelled,
                            allowAddress: allowAddress,
                            onHead: onHead,
                            onBody: onBody
                        )
                        return Self.run(request, exchange: exchange, allowRedirect: allowRedirect)
                    }
                }
            }
        }
        return try result.get()
    }

    /// Performs a request and collects the whole response body.
    ///
    /// Blocking, like ``perform(_:allowRedirect:allowAddress:isCancelled:onHead:onBody:)``, whose rules
    /// apply. Set `request.maxBodyBytes` to bound the memory used.
    ///
    /// - Throws: ``HTTPClientError`` when the exchange failed or was cancelled.
    public func fetch(
        _ request: HTTPRequest,
        allowRedirect: (String) -> Bool = { _ in true },
        allowAddress: (String) -> Bool = { _ in true },
        isCancelled: () -> Bool = { false }
    ) throws(HTTPClientError) -> HTTPResponse {
        var body: [UInt8] = []
        let head = try perform(
            request,
            allowRedirect: allowRedirect,
            allowAddress: allowAddress,
            isCancelled: isCancelled,
            onHead: { _ in true },
            onBody: { chunk in
                body.append(contentsOf: chunk)
                return true
            }
        )
        return HTTPResponse(head: head, body: body)
    }
}

// MARK: - The exchange

/// The state of one `perform` call, reached from the C callbacks through their context pointer.
private final class Exchange {
    let isCancelled: () -> Bool
    let allowAddress: (String) -> Bool
    let onHead: (HTTPResponseHead) -> Bool
    let onBody: (UnsafeRawBufferPointer) -> Bool

    /// The URL of the current hop.
    var url = ""
    /// Set when the current hop's response is a redirect to follow: its status and raw `Location`.
    var redirect: (status: Int, location: String)?
    /// The head given to `onHead`.
    var finalHead: HTTPResponseHead?
    /// Why we stopped the transfer, if we did.
    var stoppedByHandler = false
    var cancelled = false
    var refusedAddress: String?

    init(
        isCancelled: @escaping () -> Bool,
        allowAddress: @escaping (String) -> Bool,
        onHead: @escaping (HTTPResponseHead) -> Bool,
        onBody: @escaping (UnsafeRawBufferPointer) -> Bool
    ) {
        self.isCancelled = isCancelled
        self.allowAddress = allowAddress
        self.onHead = onHead
        self.onBody = onBody
    }

    func beginHop(url: String) {
        self.url = url
        redirect = nil
    }

    /// Returns whether to go on with the body.
    func receiveHead(_ head: lgpt_http_head) -> Bool {
        let status = Int(head.status)
        let fields = HTTPClient.parseHeaderBlock(UnsafeRawBufferPointer(start: head.headers, count: head.headers_len))
        if HTTPClient.redirectStatuses.contains(status),
            let location = fields.first(where: { $0.name == "location" && !$0.value.isEmpty })
        {
            // A redirect: its body is of no interest; stop here and follow it.
            redirect = (status, location.value)
            return false
        }
        var headers: [String: String] = [:]
        for field in fields {
            if let existing = headers[field.name] {
                headers[field.name] = existing + ", " + field.value
            } else {
                headers[field.name] = field.value
            }
        }
        let responseHead = HTTPResponseHead(
            status: status,
            headers: headers,
            url: url,
            remoteAddress: String(cString: head.primary_ip)
        )
        finalHead = responseHead
        if !onHead(responseHead) {
            stoppedByHandler = true
            return false
        }
        return true
    }

    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if !onBody(bytes) {
            stoppedByHandler = true
            return false
        }
        return true
    }

    func pollCancelled() -> Bool {
        if isCancelled() {
            cancelled = true
        }
        return cancelled
    }

    func checkAddress(_ ip: String) -> Bool {
        if !allowAddress(ip) {
            refusedAddress = ip
            return false
        }
        return true
    }
}

extension HTTPClient {
    // MARK: Validation

    private static func validate(_ request: HTTPRequest) throws(HTTPClientError) {
        func invalid(_ message: String) -> HTTPClientError { HTTPClientError(code: .invalidRequest, message: message) }
        guard isToken(request.method) else { throw invalid("invalid HTTP method") }
        if request.method == "HEAD" && !request.body.isEmpty { throw invalid("a HEAD request cannot have a body") }
        if request.url.utf8.contains(0) { throw HTTPClientError(code: .invalidURL, message: "invalid URL: NUL byte") }
        for (index, header) in request.headers.enumerated() {
            guard isToken(header.name) else { throw invalid("invalid header name at index \(index)") }
            if header.value.utf8.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }) {
                throw invalid("the value of header \"\(header.name)\" contains CR, LF or NUL")
            }
        }
        if request.timeoutMilliseconds < 0 || request.connectTimeoutMilliseconds < 0 {
            throw invalid("negative timeout")
        }
        if request.maxRedirects < 0 { throw invalid("negative maxRedirects") }
        if let limit = request.maxBodyBytes, limit < 0 { throw invalid("negative maxBodyBytes") }
    }

    /// An RFC 9110 token.
    private static func isToken(_ s: String) -> Bool {
        !s.isEmpty
            && s.utf8.allSatisfy { c in
                switch c {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    return true
                default:
                    return "!#$%&'*+-.^_`|~".utf8.contains(c)
                }
            }
    }

    // MARK: Redirect loop

    private static func run(
        _ request: HTTPRequest,
        exchange: Exchange,
        allowRedirect: (String) -> Bool
    ) -> Result<HTTPResponseHead, HTTPClientError> {
        let clock = ContinuousClock()
        let start = clock.now
        var method = request.method
        var url = request.url
        var headers = request.headers
        var body = request.body
        var redirects = 0
        while true {
            var timeout: Int64 = 0
            if request.timeoutMilliseconds > 0 {
                let remaining = Int64(request.timeoutMilliseconds) - milliseconds(clock.now - start)
                if remaining <= 0 {
                    let message = "\(method) \(origin(of: url)): timed out after \(request.timeoutMilliseconds) ms"
                    return .failure(HTTPClientError(code: .timeout, message: message))
                }
                timeout = remaining
            }
            exchange.beginHop(url: url)
            var result = lgpt_http_result()
            performHop(
                method: method,
                url: url,
                headers: headers,
                body: body,
                timeout: timeout,
                request: request,
                exchange: exchange,
                result: &result
            )

            guard let redirect = exchange.redirect else {
                if result.kind == LGPT_HTTP_OK, let head = exchange.finalHead {
                    return .success(head)
                }
                return .failure(error(for: result, method: method, url: url, exchange: exchange))
            }

            // Follow the redirect, or refuse to.
            let here = origin(of: url)
            let next: String
            switch resolve(redirect.location, against: url) {
            case .success(let target):
                next = target
            case .failure(let reason):
                let message = "\(method) \(here): redirect (\(redirect.status)) to an invalid Location: \(reason)"
                return .failure(HTTPClientError(code: .invalidURL, message: message))
            }
            if redirects >= request.maxRedirects {
                let message =
                    "\(method) \(here): too many redirects (more than \(request.maxRedirects)), "
                    + "next to \(origin(of: next))"
                return .failure(HTTPClientError(code: .tooManyRedirects, message: message))
            }
            if !allowRedirect(next) {
                let message = "\(method) \(here): redirect (\(redirect.status)) to \(origin(of: next)) refused"
                return .failure(HTTPClientError(code: .redirectRefused, message: message))
            }
            redirects += 1
            if redirect.status == 301 || redirect.status == 302 || redirect.status == 303 {
                if method != "HEAD" { method = "GET" }
                body = []
                let bodyHeaders: Set<String> = [
                    "content-type", "content-encoding", "content-language", "content-location",
                ]
                headers.removeAll { bodyHeaders.contains($0.name.lowercased()) }
            }
            if !isSameOrigin(url, next) {
                headers.removeAll { !headersKeptAcrossOrigins.contains($0.name.lowercased()) }
            }
            url = next
        }
    }

    /// One request through lgpt_http_perform.
    private static func performHop(
        method: String,
        url: String,
        headers: [(name: String, value: String)],
        body: [UInt8],
        timeout: Int64,
        request: HTTPRequest,
        exchange: Exchange,
        result: inout lgpt_http_result
    ) {
        // curl's convention: "Name:" would remove a header, "Name;" sends it with an empty value.
        let lines = headers.map { $0.value.isEmpty ? "\($0.name);" : "\($0.name): \($0.value)" }
        var callbacks = lgpt_http_callbacks()
        callbacks.ctx = Unmanaged.passUnretained(exchange).toOpaque()
        callbacks.on_head = { ctx, head in
            guard let ctx else { return 1 }
            return Unmanaged<Exchange>.fromOpaque(ctx).takeUnretainedValue().receiveHead(head.pointee) ? 0 : 1
        }
        callbacks.on_body = { ctx, bytes, len in
            guard let ctx else { return 1 }
            let buffer = UnsafeRawBufferPointer(start: bytes, count: len)
            return Unmanaged<Exchange>.fromOpaque(ctx).takeUnretainedValue().receiveBody(buffer) ? 0 : 1
        }
        callbacks.is_cancelled = { ctx in
            guard let ctx else { return 0 }
            return Unmanaged<Exchange>.fromOpaque(ctx).takeUnretainedValue().pollCancelled() ? 1 : 0
        }
        callbacks.check_address = { ctx, ip, _ in
            guard let ctx else { return 1 }
            return Unmanaged<Exchange>.fromOpaque(ctx).takeUnretainedValue().checkAddress(String(cString: ip)) ? 0 : 1
        }
        withExtendedLifetime(exchange) {
            withCStrings(lines) { headerPointers, headerCount in
                method.withCString { methodPointer in
                    url.withCString { urlPointer in
                        body.withUnsafeBufferPointer { bodyPointer in
                            var cRequest = lgpt_http_request(
                                method: methodPointer,
                                url: urlPointer,
                                headers: headerPointers,
                                header_count: headerCount,
                                body: bodyPointer.baseAddress,
                                body_len: bodyPointer.count,
                                timeout_ms: timeout,
                                connect_timeout_ms: Int64(request.connectTimeoutMilliseconds),
                                max_body_bytes: UInt64(request.maxBodyBytes ?? 0)
                            )
                            _ = lgpt_http_perform(&cRequest, &callbacks, &result)
                        }
                    }
                }
            }
        }
    }

    /// Calls `body` with a C array of C strings (NULL when `strings` is empty) and its count.
    private static func withCStrings<R>(
        _ strings: [String],
        _ body: (UnsafePointer<UnsafePointer<CChar>>?, Int) -> R
    ) -> R {
        var storage: [CChar] = []
        var offsets: [Int] = []
        for string in strings {
            offsets.append(storage.count)
            storage.append(contentsOf: string.utf8CString)
        }
        return storage.withUnsafeBufferPointer { characters in
            guard let base = characters.baseAddress else { return body(nil, 0) }
            let pointers = offsets.map { base + $0 }
            return pointers.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
        }
    }

    // MARK: Errors

    private static func error(
        for result: lgpt_http_result,
        method: String,
        url: String,
        exchange: Exchange
    ) -> HTTPClientError {
        let detail = withUnsafeBytes(of: result.error) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let prefix = "\(method) \(origin(of: url))"
        let code: HTTPClientError.Code
        var message = "\(prefix): \(detail)"
        switch result.kind {
        case LGPT_HTTP_OK:
            // The transfer succeeded but no head was seen: cannot happen with HTTP; report it anyway.
            code = .other
            message = "\(prefix): no response head"
        case LGPT_HTTP_ERR_INVALID_URL:
            code = .invalidURL
            message = detail
        case LGPT_HTTP_ERR_UNSUPPORTED_SCHEME:
            code = .unsupportedScheme
            message = detail
        case LGPT_HTTP_ERR_INVALID_REQUEST: code = .invalidRequest
        case LGPT_HTTP_ERR_DNS: code = .dns
        case LGPT_HTTP_ERR_CONNECT: code = .connect
        case LGPT_HTTP_ERR_TLS: code = .tls
        case LGPT_HTTP_ERR_TIMEOUT: code = .timeout
        case LGPT_HTTP_ERR_TOO_LARGE: code = .tooLarge
        case LGPT_HTTP_ERR_ADDRESS_REFUSED:
            code = .addressRefused
            message = "\(prefix): connecting to address \(exchange.refusedAddress ?? "?") is not allowed"
        case LGPT_HTTP_ERR_ABORTED:
            code = .cancelled
            message = exchange.stoppedByHandler ? "\(prefix): stopped by the response handler" : "\(prefix): cancelled"
        default: code = .other
        }
        return HTTPClientError(code: code, message: message)
    }

    // MARK: URLs and headers

    /// `scheme://host[:port]` for messages, or a placeholder when the URL does not parse.
    static func origin(of url: String) -> String {
        HTTPOrigin(url: url)?.description ?? "<invalid URL>"
    }

    private static func isSameOrigin(_ a: String, _ b: String) -> Bool {
        guard let x = HTTPOrigin(url: a), let y = HTTPOrigin(url: b) else { return false }
        return x == y
    }

    private static func resolve(_ location: String, against base: String) -> Result<String, ResolveFailure> {
        if location.utf8.contains(0) { return .failure(ResolveFailure(reason: "NUL byte")) }
        var resolved: UnsafeMutablePointer<CChar>?
        var reason = [CChar](repeating: 0, count: 256)
        let status = base.withCString { basePointer in
            location.withCString { locationPointer in
                reason.withUnsafeMutableBufferPointer { buffer in
                    lgpt_http_resolve_url(basePointer, locationPointer, &resolved, buffer.baseAddress, buffer.count)
                }
            }
        }
        defer { lgpt_http_free(resolved) }
        guard status == 0, let resolved else {
            let text = reason.withUnsafeBytes { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            return .failure(ResolveFailure(reason: text))
        }
        return .success(String(cString: resolved))
    }

    private struct ResolveFailure: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// Parses header lines ("Name: value\r\n" ...) into lower-cased names and trimmed values, in order.
    /// Obsolete line folding (a line starting with a space or tab) continues the previous value.
    static func parseHeaderBlock(_ raw: UnsafeRawBufferPointer) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for var line in raw.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard let first = line.first else { continue }
            if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                if !fields.isEmpty {
                    let more = trimmed(line)
                    if !more.isEmpty {
                        fields[fields.count - 1].value += fields[fields.count - 1].value.isEmpty ? more : " " + more
                    }
                }
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = trimmed(line[line.startIndex..<colon]).lowercased()
            if name.isEmpty { continue }
            fields.append((name, trimmed(line[(colon + 1)...])))
        }
        return fields
    }

    private static func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> String {
        let isSpace: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let start = bytes.firstIndex(where: { !isSpace($0) }),
            let end = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[start...end], as: UTF8.self)
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
