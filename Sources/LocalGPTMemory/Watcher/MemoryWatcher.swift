//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import Synchronization

/// Watches folders recursively with inotify and reports changed files in debounced batches.
///
/// Every file changed during a burst is reported (the reference kept only the first), deletions
/// and renames included; folders created later are watched too (and files already in them are
/// reported). After `debounce` without new events the batch is delivered; a continuous stream of
/// events is delivered at least every `maxDelay`. An inotify queue overflow watches the trees again
/// and delivers a batch with every root, so the receiver rescans. A root that is missing, or
/// deleted while watched, is tried again every 2 s and reported when it is back.
///
/// The watcher runs its own thread; `onChange` is called on it, one batch at a time.
public final class MemoryWatcher: Sendable {
    public let roots: [String]
    public let debounce: Duration
    public let maxDelay: Duration
    private let accepts: @Sendable (String) -> Bool
    private let onChange: @Sendable ([String]) -> Void
    private let state = Mutex(State())

    private struct State {
        var inotifyFD: Int32 = -1
        var wakeFD: Int32 = -1
        var wakeWriter: Int32 = -1
        var running = false
        var done: DispatchSemaphore?
    }

    /// - Parameters:
    ///   - roots: folders to watch, recursively (hidden subfolders are skipped).
    ///   - debounce: quiet time that ends a burst (default 500 ms).
    ///   - maxDelay: the longest a change waits while events keep coming (default 5 s).
    ///   - accepts: which changed paths to report (e.g. `*.md`); folders are always followed.
    ///   - onChange: receives the absolute paths changed in a burst, sorted, each once.
    public init(
        roots: [String],
        debounce: Duration = .milliseconds(500),
        maxDelay: Duration = .seconds(5),
        accepts: @escaping @Sendable (String) -> Bool = { $0.hasSuffix(".md") },
        onChange: @escaping @Sendable ([String]) -> Void
    ) {
        self.roots = roots.map(Workspace.standardize)
        self.debounce = debounce
        self.maxDelay = maxDelay
        self.accepts = accepts
        self.onChange = onChange
    }

    deinit {
        stop()
    }

    /// Starts watching. Calling it twice does nothing.
    ///
    /// - Throws: ``MemoryError`` (`io`) when inotify is unavailable (e.g. the watch limit is reached).
    public func start() throws(MemoryError) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0 { throw .io("inotify_init1 failed: \(FileInfo.lastError())") }
        var pipeFDs: [Int32] = [-1, -1]
        if pipe(&pipeFDs) != 0 {
            close(fd)
            throw .io("pipe failed: \(FileInfo.lastError())")
        }
        for p in pipeFDs {
            _ = fcntl(p, F_SETFL, O_NONBLOCK)
            _ = fcntl(p, F_SETFD, FD_CLOEXEC)
        }
        let wake = pipeFDs[0]
        let wakeWriter = pipeFDs[1]
        let started = state.withLock { s -> Bool in
            if s.running { return false }
            s.running = true
            s.inotifyFD = fd
            s.wakeFD = wake
            s.wakeWriter = wakeWriter
            return true
        }
        guard started else {
            close(fd)
            close(wake)
            close(wakeWriter)
            return
        }
        let loop = WatchLoop(
            fd: fd,
            wakeFD: wake,
            roots: roots,
            debounceNanoseconds: Self.nanoseconds(debounce),
            maxDelayNanoseconds: Self.nanoseconds(maxDelay),
            accepts: accepts,
            onChange: onChange
        )
        // Watches exist before start() returns, so a write right after start is seen.
        loop.addInitialWatches()
        let done = DispatchSemaphore(value: 0)
        state.withLock { $0.done = done }
        detachThread(named: "localgpt.memory.watcher") {
            loop.run()
            done.signal()
        }
    }

    /// Stops watching and waits for the thread to end (a batch being delivered finishes first).
    /// Pending, undelivered changes are dropped; the next reindex picks them up.
    public func stop() {
        let (fd, wake, writer, done) = state.withLock { s -> (Int32, Int32, Int32, DispatchSemaphore?) in
            guard s.running else { return (-1, -1, -1, nil) }
            s.running = false
            let r = (s.inotifyFD, s.wakeFD, s.wakeWriter, s.done)
            s.inotifyFD = -1
            s.wakeFD = -1
            s.wakeWriter = -1
            s.done = nil
            return r
        }
        guard wake >= 0 else { return }
        var one: UInt8 = 1
        _ = write(writer, &one, 1)
        done?.wait()
        close(fd)
        close(wake)
        close(writer)
    }

    public var isRunning: Bool { state.withLock { $0.running } }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}

/// The watcher thread's state: only that thread touches it.
private final class WatchLoop: @unchecked Sendable {
    let fd: Int32
    let wakeFD: Int32
    let roots: [String]
    let debounce: Int64
    let maxDelay: Int64
    let accepts: @Sendable (String) -> Bool
    let onChange: @Sendable ([String]) -> Void
    var folders: [Int32: String] = [:]
    var pending = Set<String>()
    var firstEvent: Int64 = 0
    var lastEvent: Int64 = 0
    /// Roots not watched now: missing at the start, or deleted since (a drive unmounted, a folder
    /// removed and made again). They are tried again every ``rootRetry``.
    var unwatchedRoots = Set<String>()
    var lastRootRetry: Int64 = 0
    static let rootRetry: Int64 = 2_000_000_000

    init(
        fd: Int32,
        wakeFD: Int32,
        roots: [String],
        debounceNanoseconds: Int64,
        maxDelayNanoseconds: Int64,
        accepts: @escaping @Sendable (String) -> Bool,
        onChange: @escaping @Sendable ([String]) -> Void
    ) {
        self.fd = fd
        self.wakeFD = wakeFD
        self.roots = roots
        self.debounce = debounceNanoseconds
        self.maxDelay = maxDelayNanoseconds
        self.accepts = accepts
        self.onChange = onChange
    }

    static let mask: UInt32 =
        UInt32(IN_CLOSE_WRITE) | UInt32(IN_MODIFY) | UInt32(IN_CREATE) | UInt32(IN_DELETE)
        | UInt32(IN_MOVED_FROM) | UInt32(IN_MOVED_TO) | UInt32(IN_DELETE_SELF)
        | UInt32(IN_EXCL_UNLINK)

    func addInitialWatches() {
        for root in roots where !watchTree(root, reportFiles: false) { unwatchedRoots.insert(root) }
        lastRootRetry = Int64(DispatchTime.now().uptimeNanoseconds)
    }

    /// Watches the roots that are back; each is reported, so the receiver rescans it.
    func retryRoots() {
        lastRootRetry = Int64(DispatchTime.now().uptimeNanoseconds)
        for root in unwatchedRoots.sorted() where watchTree(root, reportFiles: false) {
            unwatchedRoots.remove(root)
            note(root)
        }
    }

    /// Watches `dir` and its non-hidden subfolders; with `reportFiles`, reports the files found
    /// (a folder created or moved in during a burst may already hold files). False when `dir`
    /// itself cannot be watched.
    @discardableResult
    func watchTree(_ dir: String, reportFiles: Bool) -> Bool {
        let wd = inotify_add_watch(fd, dir, Self.mask | UInt32(IN_ONLYDIR))
        if wd < 0 { return false }
        folders[wd] = dir
        guard let handle = opendir(dir) else { return true }
        var subdirs: [String] = []
        while let entry = readdir(handle) {
            let name = directoryEntryNameString(entry)
            if name.hasPrefix(".") { continue }
            let path = dir + "/" + name
            let type = Int32(entry.pointee.d_type)
            if type == Int32(DT_DIR) {
                subdirs.append(path)
            } else if reportFiles && accepts(path) {
                note(path)
            }
        }
        closedir(handle)
        for sub in subdirs { watchTree(sub, reportFiles: reportFiles) }
        return true
    }

    func note(_ path: String) {
        let now = Int64(DispatchTime.now().uptimeNanoseconds)
        if pending.isEmpty { firstEvent = now }
        lastEvent = now
        pending.insert(path)
    }

    func run() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            var timeout: Int32 = -1
            if !unwatchedRoots.isEmpty {
                let now = Int64(DispatchTime.now().uptimeNanoseconds)
                if now >= lastRootRetry + Self.rootRetry { retryRoots() }
                timeout = Int32(max(1, (lastRootRetry + Self.rootRetry - now + 999_999) / 1_000_000))
            }
            if !pending.isEmpty {
                let now = Int64(DispatchTime.now().uptimeNanoseconds)
                let due = min(lastEvent + debounce, firstEvent + maxDelay)
                if now >= due {
                    flush()
                    continue
                }
                let wait = Int32(max(1, (due - now + 999_999) / 1_000_000))
                timeout = timeout < 0 ? wait : min(timeout, wait)
            }
            var fds = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
            ]
            let rc = poll(&fds, 2, timeout)
            if rc < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            if fds[0].revents != 0 { drain(&buffer) }
        }
    }

    private func flush() {
        let batch = pending.sorted()
        pending.removeAll()
        onChange(batch)
    }

    private func drain(_ buffer: inout [UInt8]) {
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n <= 0 { return }
            var offset = 0
            buffer.withUnsafeBytes { raw in
                while offset + 16 <= n {
                    let wd = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let len = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    var name = ""
                    if len > 0 {
                        let bytes = UnsafeRawBufferPointer(rebasing: raw[(offset + 16)..<(offset + 16 + len)])
                        name = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                    }
                    offset += 16 + len
                    handle(wd: wd, mask: mask, name: name)
                }
            }
        }
    }

    private func handle(wd: Int32, mask: UInt32, name: String) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            // Events were lost, folder creations among them: watch the trees again (a folder
            // already watched keeps its descriptor) and have the receiver rescan the roots.
            for r in roots {
                if !watchTree(r, reportFiles: false) { unwatchedRoots.insert(r) }
                note(r)
            }
            return
        }
        if mask & UInt32(IN_IGNORED) != 0 {
            // The folder is gone (deleted, or its file system unmounted). A root is tried again
            // until it is back.
            if let folder = folders.removeValue(forKey: wd), roots.contains(folder) {
                unwatchedRoots.insert(folder)
                note(folder)
            }
            return
        }
        guard let dir = folders[wd] else { return }
        if name.isEmpty { return }  // an event on the folder itself (IN_DELETE_SELF): IN_IGNORED follows
        if name.hasPrefix(".") { return }
        let path = dir + "/" + name
        if mask & UInt32(IN_ISDIR) != 0 {
            if mask & (UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) != 0 {
                watchTree(path, reportFiles: true)
            } else if mask & (UInt32(IN_DELETE) | UInt32(IN_MOVED_FROM)) != 0 {
                // Its files are gone from the index's point of view: report the folder so the
                // receiver rescans. A moved-away folder keeps its watches under its new name:
                // drop them (a deleted folder's are dropped by the kernel).
                for (w, folder) in folders where folder == path || folder.hasPrefix(path + "/") {
                    inotify_rm_watch(fd, w)
                    folders[w] = nil
                }
                note(path)
            }
            return
        }
        if accepts(path) { note(path) }
    }
}
