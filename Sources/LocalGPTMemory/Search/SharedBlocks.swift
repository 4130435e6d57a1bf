//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Synchronization

/// Work cut into numbered blocks that the calling thread and at most one helper thread take in
/// turn, each block once.
///
/// ``startHelper()`` puts a thread of the global queue on the blocks; ``finish()`` has the caller
/// take the blocks left, then wait for the helper if it is running. A helper that has not started
/// by then is called off, so the caller never waits for a free thread (it may itself hold the last
/// one the global queue has). ``stop()`` hands out no more blocks and waits for the helper's
/// current one: the owner of what the blocks write must call it before freeing that (a search
/// that fails between starting the helper and finishing used to free the buffers the helper was
/// still writing). `body` runs once per block, on either thread, with the block's
/// number and the worker's (0 the caller, 1 the helper: state kept per worker needs no lock); it
/// must capture nothing that owns this object.
final class SharedBlocks: Sendable {
    let count: Int
    private let body: @Sendable (_ block: Int, _ worker: Int) -> Void
    private let nextBlock = Atomic<Int>(0)
    private let helperDone = DispatchSemaphore(value: 0)
    /// The helper: none, started (queued), running, called off before it ran, or done.
    private let helper = Atomic<Int>(HelperState.none)

    private enum HelperState {
        static let none = 0
        static let queued = 1
        static let running = 2
        static let calledOff = 3
        static let done = 4
    }

    init(count: Int, body: @escaping @Sendable (_ block: Int, _ worker: Int) -> Void) {
        self.count = count
        self.body = body
    }

    /// Puts a thread of the global queue on the blocks (once).
    func startHelper() {
        guard
            helper.compareExchange(expected: HelperState.none, desired: HelperState.queued, ordering: .relaxed)
                .exchanged
        else { return }
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            guard
                helper.compareExchange(
                    expected: HelperState.queued,
                    desired: HelperState.running,
                    ordering: .acquiringAndReleasing
                ).exchanged
            else { return }
            work(worker: 1)
            helper.store(HelperState.done, ordering: .releasing)
            helperDone.signal()
        }
    }

    /// Takes the blocks left, then waits for the helper if it is running (it only finishes its
    /// block). Everything the blocks wrote is visible to the caller afterwards.
    func finish() {
        work(worker: 0)
        settle()
    }

    /// Hands out no more blocks, then waits for the helper if it is running (it only finishes its
    /// block): afterwards no block runs, now or later. Any number of calls, after ``finish()`` too.
    func stop() {
        nextBlock.store(count, ordering: .relaxed)
        settle()
    }

    /// Calls off a helper that has not started, or waits for one that is running.
    private func settle() {
        let (calledOff, state) = helper.compareExchange(
            expected: HelperState.queued,
            desired: HelperState.calledOff,
            ordering: .acquiringAndReleasing
        )
        guard !calledOff && state == HelperState.running else { return }
        helperDone.wait()
        // The signal is taken once; say so for a later call.
        helper.store(HelperState.done, ordering: .releasing)
    }

    /// Takes blocks until none is left.
    private func work(worker: Int) {
        while true {
            let block = nextBlock.add(1, ordering: .relaxed).oldValue
            guard block < count else { return }
            body(block, worker)
        }
    }
}
