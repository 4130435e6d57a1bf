//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Synchronization

/// Runs `body` on a new thread of its own, named `name` when given.
///
/// `body`, and everything it captured, is released on that thread as soon as it returns: by the
/// time the thread begins to exit, nothing it held is left to release. (A `Thread` keeps its
/// closure until the exiting thread destroys its thread-specific data, the phase in which
/// libdispatch tears down its own per-thread state. A memory index closed there, its thread
/// holding the last reference, corrupted the heap: a test of that aborted in every run.)
public func detachThread(named name: String? = nil, _ body: @escaping @Sendable () -> Void) {
    let handOff = ThreadBody(body)
    let thread = Thread { handOff.run() }
    if let name { thread.name = name }
    thread.start()
}

/// The body of a ``detachThread(named:_:)`` thread, given up once run.
private final class ThreadBody: Sendable {
    private let body: Mutex<(@Sendable () -> Void)?>

    init(_ body: @escaping @Sendable () -> Void) { self.body = Mutex(body) }

    func run() {
        let body = self.body.withLock { $0.take() }
        body?()
        // `body` is released here, on the running thread.
    }
}
