//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Synchronization

/// A value computed once: by a helper thread once ``start(on:)`` is called, or
/// by the first thread that asks for it before the helper runs. Later callers wait for it.
///
/// Asking never waits for a helper that has not started, so a thread of the global queue may ask
/// without risk of waiting for a thread that only the waiters could free.
final class Eventual<Value: Sendable>: Sendable {
    private enum State {
        case pending(@Sendable () -> Value)
        case running
        case finished(Value)
    }

    private let state: Mutex<State>
    /// Signalled when the value is ready; each waiter passes the signal on.
    private let ready = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () -> Value) {
        state = Mutex(.pending(work))
    }

    /// Puts the computation on a helper thread of `queue` (tests pass a suspended one).
    ///
    /// The queued block holds the value weakly: when a caller computed it first and its owner is
    /// gone before a busy queue runs the block, the value (an open database) is released then,
    /// not whenever the block runs. (A one-shot command's index otherwise stayed open past its
    /// manager, its WAL not yet emptied.)
    func start(on queue: DispatchQueue = .global(qos: .userInitiated)) {
        queue.async { [weak self] in
            _ = self?.runIfPending()
        }
    }

    /// The value: computed on this thread when no thread has started it, else waited for.
    var value: Value {
        if let value = runIfPending() { return value }
        if let value = finishedValue() { return value }
        ready.wait()
        ready.signal()
        guard let value = finishedValue() else { preconditionFailure("signalled before finishing") }
        return value
    }

    private func finishedValue() -> Value? {
        state.withLock { s in
            if case .finished(let value) = s { return value }
            return nil
        }
    }

    /// Runs the computation if no thread has started it; nil when one has.
    private func runIfPending() -> Value? {
        let work: (@Sendable () -> Value)? = state.withLock { s in
            guard case .pending(let work) = s else { return nil }
            s = .running
            return work
        }
        guard let work else { return nil }
        let value = work()
        state.withLock { $0 = .finished(value) }
        ready.signal()
        return value
    }
}
