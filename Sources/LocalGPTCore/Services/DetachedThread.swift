//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// Runs `body` on a new thread of its own, named `name` when given.
///
/// `body`, and everything it captured, is released on that thread as soon as it returns: by the
/// time the thread begins to exit, nothing it held is left to release. (A `Thread`'s closure is
/// released only while the exiting thread destroys its thread-specific data, after libdispatch
/// has dropped its own per-thread state: a deinit run there that uses a dispatch queue, as
/// closing a GRDB connection does, corrupted the heap in about one run in ten of a test whose
/// thread held the last reference to a memory index.)
public func detachThread(named name: String? = nil, _ body: @escaping @Sendable () -> Void) {
    let handOff = ThreadBody(body)
    let thread = Thread { handOff.run() }
    if let name { thread.name = name }
    thread.start()
}

/// The body of a ``detachThread(named:_:)`` thread, given up once run.
private final class ThreadBody: @unchecked Sendable {
    // @unchecked: `body` is set before the thread starts, then read and cleared by that thread alone.
    private var body: (@Sendable () -> Void)?

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func run() {
        let body = self.body
        self.body = nil
        body?()
        // `body` is released here, on the running thread.
    }
}
