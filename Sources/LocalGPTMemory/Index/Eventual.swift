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
        /// Given up by the owner (``discard()``).
        case discarded
    }

    private let state: Mutex<State>
    /// Signalled when the value is ready; each waiter passes the signal on.
    private let ready = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () -> Value) {
        state = Mutex(.pending(work))
    }

    /// Puts the computation on a helper thread of `queue` (tests pass a suspended one).
    ///
    /// The queued block holds this object weakly, and never the value: when a caller computed it
    /// first and its owner is gone before a busy queue runs the block, the value (an open
    /// database) is released then, not whenever the block runs. (A one-shot command's index
    /// otherwise stayed open past its manager, its WAL not yet emptied.)
    func start(on queue: DispatchQueue = .global(qos: .userInitiated)) {
        queue.async { [weak self] in
            self?.computeIfPending()
        }
    }

    /// The value: computed on this thread when no thread has started it, else waited for.
    var value: Value {
        computeIfPending()
        if let value = finishedValue() { return value }
        ready.wait()
        ready.signal()
        guard let value = finishedValue() else { preconditionFailure("signalled before finishing") }
        return value
    }

    /// Drops the value, when computed, on the calling thread, and the work, when not started.
    /// The owner calls it as it goes: a helper running ``start(on:)``'s block holds this object
    /// until the block returns, and what the value holds (an open database) would otherwise be
    /// released then, on the helper's thread, after the owner is gone. A value still being
    /// computed is released by its helper when done. Nothing may ask for the value afterwards.
    func discard() {
        let dropped: State? = state.withLock { s in
            if case .running = s { return nil }
            defer { s = .discarded }
            return s
        }
        withExtendedLifetime(dropped) {}
    }

    private func finishedValue() -> Value? {
        state.withLock { s in
            switch s {
            case .finished(let value): return value
            case .discarded: preconditionFailure("asked for a value after discard()")
            case .pending, .running: return nil
            }
        }
    }

    /// Runs the computation if no thread has started it, and keeps no copy of the value: the
    /// helper's block must not hold it past ``discard()``.
    private func computeIfPending() {
        let work: (@Sendable () -> Value)? = state.withLock { s in
            guard case .pending(let work) = s else { return nil }
            s = .running
            return work
        }
        guard let work else { return }
        var value: Value? = work()
        state.withLock { $0 = .finished(value.take()!) }
        ready.signal()
    }
}
