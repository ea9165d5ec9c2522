import SteadyCore
import SteadySystem

/// What one sweep removed and kept.
public struct MediaSweepReport: Sendable, Equatable {
    /// The hashes removed (unreferenced and older than the grace).
    public var removed: [String] = []
    /// Stored items left: referenced, or unreferenced but still young.
    public var kept = 0
    /// Partial files of interrupted puts removed from `tmp/`.
    public var partialsRemoved = 0
}

extension MediaStore {
    /// Removes every stored item whose hash is not in `referenced` and whose file is at least
    /// `graceSeconds` old (by its modification time, which a repeated `put` refreshes), and
    /// partial files of interrupted puts as old. A referenced hash is never removed, whatever its
    /// age; names that are not the store's own are left alone. `now`: seconds since the epoch.
    public func removeUnreferenced(referenced: Set<String>, graceSeconds: Int64,
                                   now: Int64 = SteadyClock.wallMillis() / 1000) throws(MediaError) -> MediaSweepReport {
        var report = MediaSweepReport()
        func isOld(_ path: String) throws(MediaError) -> Bool {
            guard let status = try sys(path, { () throws(SystemError) in try Files.status(path) }), status.isRegular else { return false }
            return now - status.modifiedSeconds >= graceSeconds
        }
        for shard in (Files.list(directory) ?? []).sorted() where shard.utf8.count == 2 && MediaStore.isHash(shard + String(repeating: "0", count: 62)) {
            let shardPath = "\(directory)/\(shard)"
            var removedHere = false
            for name in (Files.list(shardPath) ?? []).sorted() where MediaStore.isHash(name) && name.hasPrefix(shard) {
                let path = "\(shardPath)/\(name)"
                let old = try isOld(path)
                if referenced.contains(name) || !old {
                    report.kept += 1
                    continue
                }
                try sys(path) { () throws(SystemError) in try Files.remove(path) }
                report.removed.append(name)
                removedHere = true
            }
            if removedHere { try sys(shardPath) { () throws(SystemError) in try Files.syncDirectory(shardPath) } }
        }
        let tmp = "\(directory)/tmp"
        for name in (Files.list(tmp) ?? []).sorted() where name.hasSuffix(".partial") {
            let path = "\(tmp)/\(name)"
            if try isOld(path) {
                try sys(path) { () throws(SystemError) in try Files.remove(path) }
                report.partialsRemoved += 1
            }
        }
        return report
    }
}
