//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Logging

extension MemoryManager {
    /// A watcher that keeps this memory's index current: after each burst of changes it reindexes
    /// (changed files only; deleted files lose their chunks) and computes the new vectors in the
    /// background. Call `start()` on it; the daemon keeps it for its lifetime.
    ///
    /// - Parameters:
    ///   - debounce: quiet time that ends a burst.
    ///   - onReindex: called after each reindex with the report and the changed paths (tests, logs).
    /// - Returns: the watcher, not started.
    public func makeWatcher(
        debounce: Duration = .milliseconds(500),
        onReindex: (@Sendable (ReindexReport, [String]) -> Void)? = nil
    ) -> MemoryWatcher {
        let scanner = self.scanner
        return MemoryWatcher(
            roots: [workspace.root] + configuration.extraRoots.map(\.path),
            debounce: debounce,
            accepts: { scanner.covers($0) },
            onChange: { [self] paths in
                do throws(MemoryError) {
                    let report = try reindex(embedLimit: 0)
                    embedPendingInBackground()
                    onReindex?(report, paths)
                } catch {
                    logger.warning("memory: reindex after a change failed", metadata: ["error": "\(error.message)"])
                }
            }
        )
    }
}
