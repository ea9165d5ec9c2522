import Logging
import SteadyCore
import SteadyMedia
import SteadyPlatforms
import SteadySystem
import SteadyWorker

/// The posting worker's side of scheduling media: `posting.media_put` copies files the asker
/// passed as open descriptors (the CLI's `--media`, through the supervisor) into the media
/// store on a thread of their own, answering when the copy is done, so the loop never waits
/// on a long copy; `lookup` resolves the hashes `posting.create` names; `sweep` removes what
/// no post needs any more.
final class MediaIntake {
    let store: MediaStore
    /// Finished copies: the request's correlation and its answer.
    let done: LoopInbox<Finished>
    var replies: WorkerReplies?
    /// Copies running (each on its own thread).
    private(set) var running = 0
    /// How long media of a final post is kept, and when the next sweep runs (wall ms).
    let retainAfterFinalMs: Int64
    var nextSweepAt: Int64
    /// A stored file younger than this is never swept: a put not yet named by a post.
    static let graceSeconds: Int64 = 3_600
    static let sweepIntervalMs: Int64 = 3_600_000
    /// Copies at once; more are refused as busy (the CLI sends one request at a time).
    static let maxRunning = 4

    struct Finished: Sendable {
        var correlation: UInt64
        var reply: WorkerReply
    }

    init(directory: String, chunkSize: Int, retainAfterFinalMs: Int64, now: Int64) throws {
        store = try MediaStore(directory: directory, chunkSize: chunkSize)
        done = try LoopInbox()
        self.retainAfterFinalMs = retainAfterFinalMs
        nextSweepAt = now
    }

    /// `posting.media_put`: body `{"names": [NAME, ...]}`, one name (the operator's path, for
    /// messages) per descriptor passed, in order. Answers `{"media": [{"sha256","type","bytes",
    /// "name"}]}` once every copy is stored, or an error naming the first file refused.
    func put(_ request: WorkerRequest, logger: Logger) -> WorkerReply {
        let json: JSON
        do { json = try JSON.parseStrict(request.body) } catch { return .error(code: "invalid", message: "media_put: the request is not JSON: \(error)") }
        guard json.members?.count == 1, let raw = json["names"]?.array, case let names = raw.compactMap(\.string), names.count == raw.count,
              names.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 4096 && PostRequest.controlCharacter(in: $0) == nil }) else {
            return .error(code: "invalid", message: "media_put: expected {\"names\": [NAME, ...]}, one name per descriptor passed")
        }
        guard !request.descriptors.isEmpty, names.count == request.descriptors.count, names.count <= DescriptorPassing.maxPerFrame else {
            return .error(code: "invalid", message: "media_put: \(request.descriptors.count) descriptor(s) passed for \(names.count) name(s); pass 1 to \(DescriptorPassing.maxPerFrame) open files, one per name")
        }
        // Regular files only: a pipe or socket could keep a copy thread waiting for ever.
        for (d, name) in zip(request.descriptors, names) where (try? d.status(what: name))?.isRegular != true {
            return .error(code: "invalid", message: "\(name): not a regular file: pass an image or video file")
        }
        guard running < Self.maxRunning else {
            return .error(code: "busy", message: "media_put: \(running) copies are running; try again when they finish")
        }
        let store = self.store, correlation = request.correlation, descriptors = request.descriptors
        do {
            try done.run { () -> Finished in
                defer { for d in descriptors { d.close() } }
                var items: [JSON] = []
                for (d, name) in zip(descriptors, names) {
                    do throws(MediaError) {
                        let put = try store.put(from: d, name: name)
                        items.append(JSON.obj([("sha256", JSON(put.item.sha256)), ("type", JSON(put.item.type.rawValue)),
                                               ("bytes", JSON(put.item.bytes)), ("name", JSON(name))]))
                    } catch {
                        return Finished(correlation: correlation, reply: .error(code: "invalid", message: error.description))
                    }
                }
                return Finished(correlation: correlation, reply: .ok(JSON.obj([("media", .array(items))]).bytes))
            }
        } catch {
            for d in descriptors { d.close() }
            return .error(code: "internal", message: "media_put: cannot start a copy thread: \(error)")
        }
        running += 1
        logger.info("copying \(names.count) file(s) into the media store")
        return .deferred
    }

    /// On the loop: answers the copies that finished.
    func drainFinished(logger: Logger) {
        for f in done.drain() {
            running -= 1
            if case .error(_, let message) = f.reply { logger.notice("media refused: \(message)") }
            if replies?.reply(correlation: f.correlation, f.reply) != true {
                logger.notice("a media copy finished after its asker stopped waiting")
            }
        }
    }

    /// What `posting.create`'s `media` names: the stored item (type read again from its
    /// content), or nil when it is not stored.
    func lookup(_ sha256: String) -> MediaAttachment? {
        guard let reader = try? store.open(sha256) else { return nil }
        defer { reader.close() }
        return MediaAttachment(sha256: reader.item.sha256, type: reader.item.type, bytes: reader.item.bytes)
    }

    /// Removes stored media no post needs: not attached to a post that is not final, nor to
    /// one final for less than `retainAfterFinalMs`; files younger than the grace stay.
    func sweep(referenced: Set<String>, now: Int64, logger: Logger) {
        nextSweepAt = now + Self.sweepIntervalMs
        do {
            let report = try store.removeUnreferenced(referenced: referenced, graceSeconds: Self.graceSeconds, now: now / 1000)
            if !report.removed.isEmpty || report.partialsRemoved > 0 {
                logger.info("media sweep: removed \(report.removed.count) unreferenced file(s) and \(report.partialsRemoved) partial(s); kept \(report.kept)")
            }
        } catch {
            logger.warning("media sweep failed: \(error)")
        }
    }
}
