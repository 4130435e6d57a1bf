//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import GRDB
import Glibc
import Testing

@testable import LocalGPTMemory

/// Whether a file changed is told by its status (size, modification and status-change times,
/// inode), as git does: an edit that keeps size and modification time (`touch -d`, `rsync -t`,
/// `cp -p`, a rename of another file over it) is seen without `--force`, and an untouched file is
/// still not read.
///
/// Each test dates the index's rows 10 s later than they were written
/// (``MemoryIndex/postdateRows(bySeconds:)``), as if the update had run that long after the files
/// were written: otherwise the files, written a moment before, are "racily clean" and hashed again
/// whatever their status says.
@Suite struct FileStatusTests {
    /// An hour ago, whole seconds (as `touch -d` sets it).
    static let anHourAgo = timespec(tv_sec: time(nil) - 3600, tv_nsec: 0)

    /// A same-size edit whose modification time is then set back to the indexed one (an editor or
    /// a sync tool that keeps times, `touch -r`) was never seen: size and time vouched for the old
    /// content until `memory reindex --force`.
    @Test func aSameSizeEditWithItsTimeSetBackIsFound() throws {
        let t = TestMemory()
        try t.write("b.md", "Carol found a wombat yesterday.\n")
        let path = t.workspace + "/b.md"
        try setModificationTime(path, Self.anHourAgo)
        let memory = try t.open()
        #expect(try memory.reindex().filesUpdated == 1)
        try memory.index.postdateRows()
        let indexed = try status(path)

        try t.write("b.md", "Carol found a koalas yesterday.\n")
        try setModificationTime(path, Self.anHourAgo)
        let edited = try status(path)
        #expect(edited.st_size == indexed.st_size)
        #expect(edited.st_mtim.tv_sec == indexed.st_mtim.tv_sec && edited.st_mtim.tv_nsec == indexed.st_mtim.tv_nsec)
        #expect(edited.st_ino == indexed.st_ino, "the same file, written in place")

        let r = try memory.reindex()
        #expect(r.filesUpdated == 1)
        #expect(r.chunksWritten == 1)
        #expect(try memory.search("koalas", mode: .keyword).results.map(\.file) == ["b.md"])
        #expect(try memory.search("wombat", mode: .keyword).results.isEmpty)
    }

    /// A note replaced by a rename of another file of the same size and modification time (a sync
    /// tool's or `rsync -t`'s temporary file, `mv` of a copy made with `cp -p`) is indexed again.
    @Test func aFileReplacedByARenameOfOneWithTheSameSizeAndTimeIsReindexed() throws {
        let t = TestMemory()
        try t.write("notes/garden.md", "Dora planted turnips today.\n")
        let path = t.workspace + "/notes/garden.md"
        try setModificationTime(path, Self.anHourAgo)
        let memory = try t.open()
        #expect(try memory.reindex().filesUpdated == 1)
        try memory.index.postdateRows()
        let indexed = try status(path)

        // Beside the workspace, on the same file system; the same size and time.
        let staged = t.root + "/garden.md.partial"
        try Data("Dora planted carrots today.\n".utf8).write(to: URL(fileURLWithPath: staged))
        try setModificationTime(staged, Self.anHourAgo)
        #expect(rename(staged, path) == 0)
        let replaced = try status(path)
        #expect(replaced.st_size == indexed.st_size)
        #expect(
            replaced.st_mtim.tv_sec == indexed.st_mtim.tv_sec && replaced.st_mtim.tv_nsec == indexed.st_mtim.tv_nsec
        )

        let r = try memory.reindex()
        #expect(r.filesUpdated == 1)
        #expect(try memory.search("carrots", mode: .keyword).results.map(\.file) == ["notes/garden.md"])
        #expect(try memory.search("turnips", mode: .keyword).results.isEmpty)
    }

    /// An untouched file is not read again; one whose status changed but not its content (`chmod`,
    /// `touch`) is hashed once, and only its row's status is written.
    @Test func anUntouchedFileIsNotHashedAgain() throws {
        let t = TestMemory()
        try t.write("a.md", "Erin keeps bees on the roof.\n")
        try t.write("b.md", "Frank repairs old clocks.\n")
        let memory = try t.open()
        let first = try memory.reindex()
        #expect(first.filesUpdated == 2)
        #expect(first.filesHashed == 2)
        try memory.index.postdateRows()

        let again = try memory.reindex()
        #expect(again.filesHashed == 0)
        #expect(again.filesUnchanged == 2)
        #expect(again.filesUpdated == 0)

        // A status change alone: the content is hashed, found the same, and nothing is re-chunked.
        #expect(chmod(t.workspace + "/b.md", 0o640) == 0)
        let chmodded = try memory.reindex()
        #expect(chmodded.filesHashed == 1)
        #expect(chmodded.filesUnchanged == 2)
        #expect(chmodded.filesUpdated == 0)
        #expect(chmodded.chunksWritten == 0)
        try memory.index.postdateRows()
        #expect(try memory.reindex().filesHashed == 0)
        #expect(try memory.search("clocks", mode: .keyword).results.map(\.file) == ["b.md"])
    }

    /// Each part of the status counts, and so does a recent status-change time: a file copied in
    /// with its old modification time (`cp -p`, `rsync -t`) is racy by its ctime alone.
    @Test func everyPartOfTheStatusCountsAndARecentCtimeIsRacy() {
        let now: Int64 = 1_800_000_000_000  // milliseconds
        let hourAgo = (now - 3_600_000) * 1_000_000
        let row = IndexedFileState(mtime: hourAgo, size: 30, ctime: hourAgo + 5, inode: 77, indexedAt: now)
        func file(
            mtime: Int64 = hourAgo,
            size: Int64 = 30,
            ctime: Int64 = hourAgo + 5,
            inode: UInt64 = 77
        ) -> ScannedFile {
            ScannedFile(
                absolutePath: "/w/a.md",
                key: "a.md",
                source: "memory",
                size: size,
                mtime: mtime,
                ctime: ctime,
                inode: inode
            )
        }
        #expect(row.vouches(for: file()))
        #expect(!row.vouches(for: file(mtime: hourAgo + 1)))
        #expect(!row.vouches(for: file(size: 31)))
        #expect(!row.vouches(for: file(ctime: hourAgo + 6)))
        #expect(!row.vouches(for: file(inode: 78)))
        // A row written before `v4-file-status` (ctime and inode 0) vouches for no file.
        var migrated = row
        migrated.ctime = 0
        migrated.inode = 0
        #expect(!migrated.vouches(for: file()))

        var copiedIn = row
        copiedIn.ctime = now * 1_000_000 - 500_000_000  // half a second before the row was written
        #expect(copiedIn.isRacy)
        #expect(!copiedIn.vouches(for: file(ctime: copiedIn.ctime)))
        copiedIn.ctime = now * 1_000_000 - 2_500_000_000
        #expect(!copiedIn.isRacy)
    }

    /// An index written before `v4-file-status` (its `files` table without `ctime` and `inode`) is
    /// migrated when opened, keeps its rows and identity (no rebuild, searchable at once), and its
    /// files are hashed once by the next update, which re-chunks none of them.
    @Test func anIndexOfThePreviousLayoutIsMigratedWithoutARebuild() throws {
        let t = TestMemory()
        try t.write("a.md", "Erin keeps bees on the roof.\n")
        try t.write("memory/2024-05-01.md", TestMemory.diary("May 1", lines: 40))
        let chunks: Int
        do {
            let memory = try t.open()
            #expect(try memory.reindex().filesUpdated == 2)
            chunks = try memory.index.stats().chunks
            // Not racy: only the missing status makes the files be hashed again.
            try memory.index.postdateRows()
            // Back to the previous layout, as an index written before the migration holds it.
            try memory.index.database.write { db in
                try db.execute(
                    sql: """
                        ALTER TABLE files DROP COLUMN inode;
                        ALTER TABLE files DROP COLUMN ctime;
                        DELETE FROM grdb_migrations WHERE identifier = 'v4-file-status';
                        """
                )
            }
            let columns = try memory.index.database.read { db in try db.columns(in: "files").map(\.name) }
            #expect(columns == ["path", "source", "hash", "mtime", "size", "chunks", "indexed_at"])
        }

        let memory = try t.open()
        #expect(!memory.index.needsRebuild)
        let columns = try memory.index.database.read { db in try db.columns(in: "files").map(\.name) }
        #expect(columns.suffix(2) == ["ctime", "inode"])
        #expect(try memory.search("bees", mode: .keyword, refresh: false).results.map(\.file) == ["a.md"])

        let r = try memory.reindex()
        #expect(!r.rebuilt)
        #expect(r.filesHashed == 2, "rows without a ctime vouch for nothing")
        #expect(r.filesUpdated == 0)
        #expect(r.chunksWritten == 0)
        #expect(try memory.index.stats().chunks == chunks)
        let zero = try memory.index.database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM files WHERE ctime = 0 OR inode = 0")
        }
        #expect(zero == 0)
        try memory.index.postdateRows()
        #expect(try memory.reindex().filesHashed == 0)
        #expect(try memory.search("bees", mode: .keyword).results.map(\.file) == ["a.md"])
    }
}

extension MemoryIndex {
    /// Dates every file row `seconds` later than it was written, as if the update had run that
    /// long after the files' last change: the racy check (``IndexedFileState/racyNanoseconds``)
    /// then hashes none of them again, and only their status decides.
    func postdateRows(bySeconds seconds: Int64 = 10) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE files SET indexed_at = indexed_at + ?", arguments: [seconds * 1000])
        }
    }
}

/// `stat(2)` of `path`.
private func status(_ path: String) throws -> stat {
    var st = stat()
    guard stat(path, &st) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    return st
}

/// Sets `path`'s modification time (and access time) with `utimensat(2)`, as `touch -d` does.
private func setModificationTime(_ path: String, _ time: timespec) throws {
    var times = [time, time]
    guard utimensat(AT_FDCWD, path, &times, 0) == 0 else {
        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
    }
}
