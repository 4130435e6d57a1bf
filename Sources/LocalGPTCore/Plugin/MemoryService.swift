//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// The memory service behind the host's `memory_search` and `memory_append` functions.
///
/// `LocalGPTCore` knows no database: the memory module implements this and the application
/// hands it to the ``PluginHost``. Requests and replies are the JSON documents of the plugin ABI
/// (docs/PLUGIN-ABI.md §4).
public protocol MemoryService: Sendable {
    /// `{"query": "...", "limit": 5}` -> `{"results": [{"file", "line_start", "line_end", "score", "snippet"}]}`.
    ///
    /// - Throws: ``MemoryServiceError`` for a malformed request or an index failure.
    func search(request: JSONValue, source: String) throws(MemoryServiceError) -> JSONValue

    /// `{"text": "..."}` appends to today's daily log; `{"text": "...", "file": "MEMORY.md"}` to a
    /// workspace file. Returns `{"file": "...", "line_start": n, "line_end": m}`.
    ///
    /// - Throws: ``MemoryServiceError`` for a malformed request or a write failure.
    func append(request: JSONValue, source: String) throws(MemoryServiceError) -> JSONValue
}

/// Why a memory request failed.
public struct MemoryServiceError: Error, Sendable, CustomStringConvertible {
    /// True when the request itself is wrong (maps to INVALID_ARGUMENT), false for an I/O failure.
    public var isInvalidRequest: Bool
    public var message: String
    public var description: String { message }

    public init(invalidRequest: Bool, message: String) {
        self.isInvalidRequest = invalidRequest
        self.message = message
    }
}
