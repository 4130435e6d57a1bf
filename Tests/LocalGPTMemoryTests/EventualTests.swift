//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Foundation
import Glibc
import LocalGPTCore
import Synchronization
import Testing

@testable import LocalGPTMemory

@Suite struct EventualTests {
    /// However the helper and the callers race, the work runs once and every caller gets its value.
    @Test func theWorkRunsOnceWhoeverComesFirst() {
        for i in 0..<200 {
            let runs = Atomic<Int>(0)
            let eventual = Eventual<Int> {
                runs.add(1, ordering: .relaxed)
                if i % 4 == 0 { usleep(100) }  // sometimes slow, so that callers wait
                return i
            }
            if i % 3 != 0 { eventual.start() }  // i % 3 == 0: no helper, a caller computes it
            if i % 5 == 1 { usleep(200) }  // sometimes the helper is done before anyone asks
            let seen = Mutex<[Int]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                let v = eventual.value
                seen.withLock { $0.append(v) }
            }
            #expect(seen.withLock { $0 } == [i, i, i, i])
            #expect(eventual.value == i)
            if i % 3 == 0 { eventual.start() }  // a helper started after the fact does nothing
            #expect(runs.load(ordering: .relaxed) == 1)
        }
    }

    /// A helper still queued when a caller has computed the value, and the owner is gone, does
    /// not keep the value alive (an open index stayed open past its one-shot command's manager
    /// while a busy global queue had not yet run the block: its WAL was not emptied).
    @Test func aQueuedHelperDoesNotKeepTheValueAlive() {
        final class Box: Sendable {}
        weak var box: Box?
        let held = DispatchQueue(label: "held")
        held.suspend()
        do {
            let eventual = Eventual<Box> { Box() }
            eventual.start(on: held)
            box = eventual.value
            #expect(box != nil)
        }
        #expect(box == nil, "released with its owner, before the helper's queue runs")
        held.resume()
        held.sync {}
    }

    /// `discard()` releases the value on the owner's thread even while the helper's block still
    /// holds the object (it does until it returns): a memory index closed later, on the helper's
    /// thread, after its manager was gone, and the next manager read a file replaced in the
    /// meantime through the old index's WAL. Work not started is dropped unrun.
    @Test func discardReleasesTheValueWhileAHelperStillHoldsTheObject() {
        final class Box: Sendable {}
        weak var box: Box?
        let eventual = Eventual<Box> { Box() }
        let heldByHelper = eventual
        box = eventual.value
        #expect(box != nil)
        eventual.discard()
        #expect(box == nil, "released by discard(), not by the helper's last reference")
        withExtendedLifetime(heldByHelper) {}

        let runs = Atomic<Int>(0)
        let unstarted = Eventual<Int> {
            runs.add(1, ordering: .relaxed)
            return 1
        }
        let held = DispatchQueue(label: "held")
        held.suspend()
        unstarted.start(on: held)
        unstarted.discard()
        held.resume()
        held.sync {}
        #expect(runs.load(ordering: .relaxed) == 0)
    }

    /// A caller that asks while the helper is still queued computes the value itself rather than
    /// wait for it: the helper's queue is held suspended, so a caller that waited would not answer
    /// within the 10 s allowed. Once the queue runs, the helper finds nothing left to do.
    @Test func aQueuedHelperIsNotWaitedFor() {
        let runs = Atomic<Int>(0)
        let eventual = Eventual<String> {
            runs.add(1, ordering: .relaxed)
            return "ready"
        }
        let held = DispatchQueue(label: "held")
        held.suspend()
        eventual.start(on: held)
        let answered = DispatchSemaphore(value: 0)
        let got = Mutex<String?>(nil)
        detachThread {
            got.withLock { $0 = eventual.value }
            answered.signal()
        }
        let inTime = answered.wait(timeout: .now() + 10) == .success
        #expect(inTime, "the caller waited for the queued helper")
        held.resume()
        held.sync {}  // the helper has run (and found the value computed)
        if !inTime { answered.wait() }
        #expect(got.withLock { $0 } == "ready")
        #expect(runs.load(ordering: .relaxed) == 1)
    }
}
