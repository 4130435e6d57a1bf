// HTTPClient against a real server on 127.0.0.1 (LoopbackHTTPServer). No test leaves the machine.

import LocalGPTCore
import LocalGPTTesting
import Testing

@Suite struct HTTPClientTests {
    let client = HTTPClient()

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: Requests and responses

    @Test func getReturnsStatusHeadersAndBody() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                status: 200,
                headers: [
                    ("X-Test", "a"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Type", "text/plain"),
                ],
                text: "hello"
            )
        }
        defer { server.stop() }
        let request = HTTPRequest(
            url: server.baseURL + "/path?q=1&r=two",
            headers: [(name: "X-Client", value: "yes"), (name: "X-Empty", value: "")]
        )
        let response = try client.fetch(request)
        #expect(response.head.status == 200)
        #expect(response.head.headers["x-test"] == "a")
        #expect(response.head.headers["set-cookie"] == "a=1, b=2")
        #expect(response.head[header: "Content-Type"] == "text/plain")
        #expect(response.head.headers["content-length"] == "5")
        #expect(response.head.url == server.baseURL + "/path?q=1&r=two")
        #expect(text(response.body) == "hello")

        let seen = try #require(server.requests.first)
        #expect(seen.method == "GET")
        #expect(seen.path == "/path?q=1&r=two")
        #expect(seen.headers["x-client"] == "yes")
        #expect(seen.headers["x-empty"] == "")
        #expect(seen.headers["expect"] == nil)
        #expect(seen.body.isEmpty)
    }

    @Test func postSendsTheBody() throws {
        let server = try LoopbackHTTPServer { request in
            LoopbackHTTPResponse(
                status: 201,
                headers: [("Content-Type", request.headers["content-type"] ?? "none")],
                body: .bytes(request.body)
            )
        }
        defer { server.stop() }
        let body: [UInt8] = Array("{\"a\":1}".utf8) + [0, 255, 10, 13]
        let request = HTTPRequest(
            method: "POST",
            url: server.baseURL + "/echo",
            headers: [(name: "Content-Type", value: "application/json")],
            body: body
        )
        let response = try client.fetch(request)
        #expect(response.head.status == 201)
        #expect(response.body == body)
        #expect(response.head.headers["content-type"] == "application/json")
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.headers["content-length"] == "\(body.count)")
    }

    @Test func postWithoutContentTypeDoesNotClaimAForm() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "") }
        defer { server.stop() }
        _ = try client.fetch(HTTPRequest(method: "PUT", url: server.baseURL + "/put", body: Array("raw".utf8)))
        let seen = try #require(server.requests.first)
        #expect(seen.method == "PUT")
        #expect(seen.bodyText == "raw")
        #expect(seen.headers["content-type"] == nil)
    }

    @Test func errorStatusIsAResult() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(status: 404, text: "missing") }
        defer { server.stop() }
        let response = try client.fetch(HTTPRequest(url: server.baseURL + "/nothing"))
        #expect(response.head.status == 404)
        #expect(text(response.body) == "missing")
    }

    @Test func headRequestHasNoBody() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "0123456789") }
        defer { server.stop() }
        var bodyCalls = 0
        let head = try client.perform(
            HTTPRequest(method: "HEAD", url: server.baseURL + "/"),
            onHead: { _ in true },
            onBody: { _ in
                bodyCalls += 1
                return true
            }
        )
        #expect(head.status == 200)
        #expect(head.headers["content-length"] == "10")
        #expect(bodyCalls == 0)
        #expect(server.requests.first?.method == "HEAD")
    }

    @Test func interimResponsesAreDiscarded() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                status: 200,
                headers: [("X-Final", "yes")],
                body: .bytes(Array("done".utf8)),
                interim: [(status: 103, headers: [("Link", "</style.css>; rel=preload")])]
            )
        }
        defer { server.stop() }
        var heads: [HTTPResponseHead] = []
        _ = try client.perform(
            HTTPRequest(url: server.baseURL + "/"),
            onHead: { head in
                heads.append(head)
                return true
            },
            onBody: { _ in true }
        )
        #expect(heads.count == 1)
        #expect(heads.first?.status == 200)
        #expect(heads.first?.headers["x-final"] == "yes")
        #expect(heads.first?.headers["link"] == nil)
    }

    @Test func remoteAddressIsTheLoopback() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "x") }
        defer { server.stop() }
        var seenInOnHead = ""
        let head = try client.perform(
            HTTPRequest(url: server.baseURL + "/"),
            onHead: { head in
                seenInOnHead = head.remoteAddress
                return true
            },
            onBody: { _ in true }
        )
        #expect(head.remoteAddress == "127.0.0.1")
        #expect(seenInOnHead == "127.0.0.1")
    }

    // MARK: Streaming

    @Test func chunkedBodyStreamsAfterTheHead() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                headers: [("Content-Type", "text/event-stream")],
                body: .chunks([Array("one,".utf8), Array("two,".utf8), Array("three".utf8)], delayMilliseconds: 150)
            )
        }
        defer { server.stop() }
        enum Event: Equatable {
            case head(Int)
            case body(String)
        }
        var events: [Event] = []
        let head = try client.perform(
            HTTPRequest(url: server.baseURL + "/stream"),
            onHead: { head in
                events.append(.head(head.status))
                return true
            },
            onBody: { chunk in
                events.append(.body(String(decoding: chunk, as: UTF8.self)))
                return true
            }
        )
        #expect(head.headers["transfer-encoding"] == "chunked")
        #expect(events.first == .head(200))
        #expect(events.filter { $0 == .head(200) }.count == 1)
        let pieces = events.compactMap { event -> String? in
            if case .body(let piece) = event { return piece }
            return nil
        }
        #expect(pieces.count >= 2, "the chunks are 150 ms apart and should arrive in separate calls")
        #expect(pieces.joined() == "one,two,three")
    }

    @Test func onBodyReturningFalseCancels() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                body: .chunks([Array("a".utf8), Array("b".utf8), Array("c".utf8)], delayMilliseconds: 100)
            )
        }
        defer { server.stop() }
        var received: [UInt8] = []
        let error = #expect(throws: HTTPClientError.self) {
            try client.perform(
                HTTPRequest(url: server.baseURL + "/"),
                onHead: { _ in true },
                onBody: { chunk in
                    received.append(contentsOf: chunk)
                    return false
                }
            )
        }
        #expect(error?.code == .cancelled)
        #expect(text(received) == "a")
    }

    @Test func onHeadReturningFalseCancelsBeforeTheBody() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "body") }
        defer { server.stop() }
        var bodyCalls = 0
        let error = #expect(throws: HTTPClientError.self) {
            try client.perform(
                HTTPRequest(url: server.baseURL + "/"),
                onHead: { _ in false },
                onBody: { _ in
                    bodyCalls += 1
                    return true
                }
            )
        }
        #expect(error?.code == .cancelled)
        #expect(bodyCalls == 0)
    }

    @Test func bodyLargerThanTheLimitFails() throws {
        let server = try LoopbackHTTPServer { request in
            if request.path == "/chunked" {
                return LoopbackHTTPResponse(
                    body: .chunks(
                        [[UInt8](repeating: 65, count: 60), [UInt8](repeating: 66, count: 60)],
                        delayMilliseconds: 10
                    )
                )
            }
            return LoopbackHTTPResponse(body: .bytes([UInt8](repeating: 65, count: 100)))
        }
        defer { server.stop() }
        for path in ["/whole", "/chunked"] {
            let error = #expect(throws: HTTPClientError.self, "path \(path)") {
                try client.fetch(HTTPRequest(url: server.baseURL + path, maxBodyBytes: 99))
            }
            #expect(error?.code == .tooLarge, "path \(path)")
        }
        let exact = try client.fetch(HTTPRequest(url: server.baseURL + "/whole", maxBodyBytes: 100))
        #expect(exact.body.count == 100)
    }

    // MARK: Redirects

    @Test func redirectsAreFollowedAndResolved() throws {
        let server = try LoopbackHTTPServer { request in
            switch request.path {
            case "/dir/start":
                return LoopbackHTTPResponse(status: 302, headers: [("Location", "next?x=1")], text: "moved")
            case "/dir/next?x=1": return LoopbackHTTPResponse(status: 303, headers: [("Location", "/final")])
            default: return LoopbackHTTPResponse(text: "\(request.method) \(request.path) \(request.bodyText)")
            }
        }
        defer { server.stop() }
        var asked: [String] = []
        var heads: [HTTPResponseHead] = []
        var body: [UInt8] = []
        let request = HTTPRequest(
            method: "POST",
            url: server.baseURL + "/dir/start",
            headers: [
                (name: "Content-Type", value: "text/plain"), (name: "Authorization", value: "Bearer same-origin"),
            ],
            body: Array("payload".utf8)
        )
        let head = try client.perform(
            request,
            allowRedirect: { next in
                asked.append(next)
                return true
            },
            onHead: { head in
                heads.append(head)
                return true
            },
            onBody: { chunk in
                body.append(contentsOf: chunk)
                return true
            }
        )
        #expect(asked == [server.baseURL + "/dir/next?x=1", server.baseURL + "/final"])
        #expect(heads.count == 1, "onHead sees the final response only")
        #expect(head.status == 200)
        #expect(head.url == server.baseURL + "/final")
        #expect(text(body) == "GET /final ", "302 and 303 continue as GET without body")
        let seen = server.requests
        #expect(seen.map(\.path) == ["/dir/start", "/dir/next?x=1", "/final"])
        #expect(seen.last?.headers["authorization"] == "Bearer same-origin", "same origin keeps credentials")
        #expect(seen.last?.headers["content-type"] == nil)
    }

    @Test(arguments: [307, 308])
    func redirectKeepsMethodAndBody(status: Int) throws {
        let server = try LoopbackHTTPServer { request in
            if request.path == "/start" {
                return LoopbackHTTPResponse(status: status, headers: [("Location", "/final")])
            }
            return LoopbackHTTPResponse(text: "\(request.method) \(request.bodyText)")
        }
        defer { server.stop() }
        let response = try client.fetch(
            HTTPRequest(method: "POST", url: server.baseURL + "/start", body: Array("payload".utf8))
        )
        #expect(response.head.status == 200)
        #expect(text(response.body) == "POST payload")
    }

    @Test func redirectToAnotherOriginDropsCredentials() throws {
        let other = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "other") }
        defer { other.stop() }
        let target = other.baseURL + "/landing"
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(status: 302, headers: [("Location", target)]) }
        defer { server.stop() }
        let request = HTTPRequest(
            url: server.baseURL + "/start",
            headers: [
                (name: "Authorization", value: "Bearer secret"), (name: "X-Api-Key", value: "secret"),
                (name: "Cookie", value: "s=secret"), (name: "Accept", value: "application/json"),
            ]
        )
        let response = try client.fetch(request)
        #expect(text(response.body) == "other")
        #expect(response.head.url == target)
        let seen = try #require(other.requests.first)
        #expect(seen.headers["authorization"] == nil)
        #expect(seen.headers["x-api-key"] == nil)
        #expect(seen.headers["cookie"] == nil)
        #expect(seen.headers["accept"] == "application/json")
        #expect(server.requests.first?.headers["x-api-key"] == "secret")
    }

    @Test func refusedRedirectIsAnError() throws {
        let server = try LoopbackHTTPServer { request in
            request.path == "/start"
                ? LoopbackHTTPResponse(status: 302, headers: [("Location", "/final")])
                : LoopbackHTTPResponse(text: "final")
        }
        defer { server.stop() }
        var asked: [String] = []
        let error = #expect(throws: HTTPClientError.self) {
            try client.fetch(HTTPRequest(url: server.baseURL + "/start")) { next in
                asked.append(next)
                return false
            }
        }
        #expect(error?.code == .redirectRefused)
        #expect(asked == [server.baseURL + "/final"])
        #expect(server.requests.map(\.path) == ["/start"])
    }

    @Test func tooManyRedirectsIsAnError() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(status: 302, headers: [("Location", "/loop")]) }
        defer { server.stop() }
        let error = #expect(throws: HTTPClientError.self) {
            try client.fetch(HTTPRequest(url: server.baseURL + "/loop", maxRedirects: 3))
        }
        #expect(error?.code == .tooManyRedirects)
        #expect(server.requests.count == 4, "the first request and three redirects")
    }

    @Test func redirectToAnotherSchemeIsRefused() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(status: 301, headers: [("Location", "file:///etc/passwd")])
        }
        defer { server.stop() }
        let error = #expect(throws: HTTPClientError.self) {
            try client.fetch(HTTPRequest(url: server.baseURL + "/"))
        }
        #expect(error?.code == .unsupportedScheme)
    }

    // MARK: Failures

    @Test func slowServerTimesOut() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "late", delayMilliseconds: 3_000) }
        defer { server.stop() }
        let start = ContinuousClock.now
        let error = #expect(throws: HTTPClientError.self) {
            try client.fetch(HTTPRequest(url: server.baseURL + "/slow", timeoutMilliseconds: 300))
        }
        #expect(error?.code == .timeout)
        #expect(ContinuousClock.now - start < .milliseconds(2_500))
        #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
    }

    @Test func closedPortIsAConnectError() throws {
        try LoopbackHTTPServer.withRefusingPort { port in
            let error = #expect(throws: HTTPClientError.self) {
                try client.fetch(HTTPRequest(url: "http://127.0.0.1:\(port)/"))
            }
            #expect(error?.code == .connect)
            #expect(error?.message.contains("127.0.0.1") == true)
        }
    }

    @Test func connectionClosedWithoutAnswerIsAnError() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(body: .closeWithoutAnswer) }
        defer { server.stop() }
        let error = #expect(throws: HTTPClientError.self) {
            try client.fetch(HTTPRequest(url: server.baseURL + "/"))
        }
        #expect(error?.code == .other)
    }

    @Test(arguments: ["file:///etc/passwd", "ftp://127.0.0.1/file", "gopher://127.0.0.1/"])
    func nonHTTPSchemesAreRefused(url: String) throws {
        let error = #expect(throws: HTTPClientError.self) { try client.fetch(HTTPRequest(url: url)) }
        #expect(error?.code == .unsupportedScheme)
    }

    @Test(arguments: ["", "not a url", "127.0.0.1/path", "http://", "http://exa mple.com/", "http://[::1/"])
    func malformedURLsAreRefused(url: String) throws {
        let error = #expect(throws: HTTPClientError.self) { try client.fetch(HTTPRequest(url: url)) }
        #expect(error?.code == .invalidURL)
    }

    @Test func malformedHeadersAreRefusedBeforeSending() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "x") }
        defer { server.stop() }
        let bad: [(name: String, value: String)] = [("X-Injected", "a\r\nEvil: 1"), ("Bad Name", "v"), ("", "v")]
        for header in bad {
            let error = #expect(throws: HTTPClientError.self) {
                try client.fetch(HTTPRequest(url: server.baseURL + "/", headers: [header]))
            }
            #expect(error?.code == .invalidRequest)
        }
        #expect(server.requests.isEmpty)
    }

    @Test func isCancelledStopsAWaitingRequest() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "late", delayMilliseconds: 3_000) }
        defer { server.stop() }
        let start = ContinuousClock.now
        let error = #expect(throws: HTTPClientError.self) {
            try client.fetch(
                HTTPRequest(url: server.baseURL + "/"),
                isCancelled: { ContinuousClock.now - start > .milliseconds(200) }
            )
        }
        #expect(error?.code == .cancelled)
        #expect(ContinuousClock.now - start < .milliseconds(1_500))
    }

    @Test func refusedAddressSendsNothing() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "x") }
        defer { server.stop() }
        var asked: [String] = []
        let error = #expect(throws: HTTPClientError.self) {
            try client.fetch(
                HTTPRequest(url: server.baseURL + "/", headers: [(name: "Authorization", value: "Bearer secret")]),
                allowAddress: { address in
                    asked.append(address)
                    return false
                }
            )
        }
        #expect(error?.code == .addressRefused)
        #expect(asked == ["127.0.0.1"])
        #expect(server.requests.isEmpty)
    }

    @Test func errorMessagesDoNotLeakSecrets() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "late", delayMilliseconds: 2_000) }
        defer { server.stop() }
        let error = #expect(throws: HTTPClientError.self) {
            try client.fetch(
                HTTPRequest(
                    method: "POST",
                    url: server.baseURL + "/v1/models?key=sk-query-secret",
                    headers: [(name: "Authorization", value: "Bearer sk-header-secret")],
                    body: Array("sk-body-secret".utf8),
                    timeoutMilliseconds: 200
                )
            )
        }
        let message = error?.description ?? ""
        #expect(error?.code == .timeout)
        #expect(message.contains("127.0.0.1"))
        #expect(!message.contains("sk-"))
        #expect(!message.contains("/v1/models"))
    }

    // MARK: Origins

    @Test func originsFollowCurlsParser() throws {
        let origin = try #require(HTTPOrigin(url: "HTTPS://API.Example.com/v1?x=1"))
        #expect(origin.scheme == "https")
        #expect(origin.host == "api.example.com")
        #expect(origin.port == 443)
        #expect(!origin.isPortExplicit)
        #expect(origin.description == "https://api.example.com")
        #expect(HTTPOrigin(url: "http://127.0.0.1:8080/")?.port == 8080)
        #expect(HTTPOrigin(url: "http://[::1]:99/")?.host == "[::1]")
        #expect(HTTPOrigin(url: "https://example.com:443/") == origin.withHost("example.com"))
        #expect(HTTPOrigin(url: "http://user:pw@example.com/")?.host == "example.com")
        #expect(HTTPOrigin(url: "not a url") == nil)
    }
}

extension HTTPOrigin {
    fileprivate func withHost(_ host: String) -> HTTPOrigin {
        var copy = self
        copy.host = host
        return copy
    }
}
