//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore
import Synchronization

/// The plugin host's `memory_search` / `memory_append` service, backed by a workspace's memory.
///
/// Requests and replies are the plugin ABI's JSON documents (docs/PLUGIN-ABI.md §4):
/// `{"query", "limit"}` -> `{"results": [...]}`; `{"text"}` appends to today's daily log, `{"text",
/// "file"}` to that workspace markdown file -> `{"file", "line_start", "line_end"}`.
///
/// The memory is opened on first use, so a host that never touches memory pays nothing for it.
public final class WorkspaceMemoryService: MemoryService {
    private let make: @Sendable () throws(MemoryError) -> MemoryManager
    private let opened = Mutex<Result<MemoryManager, MemoryError>?>(nil)

    /// - Parameter make: opens the memory; called once, on the first request.
    public init(make: @escaping @Sendable () throws(MemoryError) -> MemoryManager) {
        self.make = make
    }

    /// A service over an already open memory.
    public convenience init(memory: MemoryManager) {
        self.init(make: { memory })
    }

    /// The memory, opened on first use.
    ///
    /// - Throws: ``MemoryError`` when it cannot be opened (remembered: later calls fail the same way).
    public func memory() throws(MemoryError) -> MemoryManager {
        let result = opened.withLock { state -> Result<MemoryManager, MemoryError> in
            if let state { return state }
            let r = Result { () throws(MemoryError) in try make() }
            state = r
            return r
        }
        return try result.get()
    }

    public func search(request: JSONValue, source: String) throws(MemoryServiceError) -> JSONValue {
        guard let query = request["query"]?.stringValue else {
            throw MemoryServiceError(invalidRequest: true, message: "\"query\" must be a string")
        }
        var limit = 5
        if let l = request["limit"] {
            guard let n = l.intValue, (1...100).contains(n) else {
                throw MemoryServiceError(invalidRequest: true, message: "\"limit\" must be an integer from 1 to 100")
            }
            limit = Int(n)
        }
        do throws(MemoryError) {
            return try memory().search(query, limit: limit).json
        } catch {
            throw Self.map(error)
        }
    }

    public func append(request: JSONValue, source: String) throws(MemoryServiceError) -> JSONValue {
        guard let text = request["text"]?.stringValue else {
            throw MemoryServiceError(invalidRequest: true, message: "\"text\" must be a string")
        }
        do {
            let memory = try memory()
            let r: AppendResult
            if let file = request["file"] {
                guard let f = file.stringValue else {
                    throw MemoryServiceError(invalidRequest: true, message: "\"file\" must be a string")
                }
                r = try memory.append(text: text, to: f)
            } else {
                r = try memory.log(entry: text)
            }
            memory.embedPendingInBackground()
            return MemoryTools.appended(r)
        } catch let e as MemoryError {
            throw Self.map(e)
        } catch let e as MemoryServiceError {
            throw e
        } catch {
            throw MemoryServiceError(invalidRequest: false, message: "\(error)")
        }
    }

    static func map(_ error: MemoryError) -> MemoryServiceError {
        let invalid: Set<MemoryError.Code> = [.invalidArgument, .pathOutsideWorkspace, .notFound, .notAFile, .tooLarge]
        return MemoryServiceError(invalidRequest: invalid.contains(error.code), message: error.message)
    }
}
