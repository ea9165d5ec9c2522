import Logging
import SteadyCore
import SteadyHTTP
import SteadyMedia
import SteadyPlatforms
import SteadyStore
import SteadySystem

/// A claimed post's attachments, uploaded (or reused) before its attempt begins
/// (docs/design.md, "Media uploads"). An upload publishes nothing, so it needs no intent row:
/// it runs while the post is `claimed`, the claim extended as it goes; a lost upload answer
/// is repeated, never verified; the create that names the handles stays the one guarded
/// effect. Each handle is stored (`MediaUpload`) after every step a restarted worker could
/// resume from: a usable one is reused, an expired one uploaded again, an unfinished X
/// upload resumed at its next segment.
///
/// Platform-neutral: the adapter's `MediaUploading` does the platform's steps; a platform
/// that fetches by URL or uploads resumably plugs in there with the same context.
struct MediaUploadStep {
    let store: any PostingWorkerStore
    let media: MediaStore
    let settings: PostingSettings
    let owner: String
    let logger: Logger
    let crash: (PostingFaults.CrashPoint) -> Void
    /// Processing polls one upload may wait through before the claim is given back.
    var maxPolls = 600

    /// The platform's handle of each attachment, in post order.
    func run(_ post: Post, attachments: [MediaAttachment], adapter: any PlatformAdapter, meta: Logger.Metadata) throws(PlatformError) -> [String] {
        func local(_ cls: ErrorClass, _ message: String) -> PlatformError {
            PlatformError(platform: adapter.platform, errorClass: cls, evidence: ErrorEvidence(operation: "upload"), message: message)
        }
        guard let uploader = adapter as? any MediaUploading else {
            throw local(.permanent(reason: "\(adapter.platform.rawValue) takes no media"), "\(adapter.platform.rawValue) takes no media")
        }
        var stored: [Int: MediaUpload] = [:]
        do {
            for upload in try store.mediaUploads(postId: post.id) { stored[upload.position] = upload }
        } catch {
            throw local(.noEffect, "the stored uploads cannot be read: \(error)")
        }
        var handles: [String] = []
        for (position, attachment) in attachments.enumerated() {
            guard media.contains(attachment.sha256) else {
                let why = "attachment \(position + 1) (\(attachment.sha256)) is missing from the media store"
                throw local(.permanent(reason: why), why)
            }
            let previous = stored[position].flatMap { $0.sha256 == attachment.sha256 ? $0 : nil }
            if let previous, previous.usable(at: SteadyClock.wallMillis()) {
                logger.info("media \(position + 1)/\(attachments.count): reusing upload \(short(previous.handle))", metadata: meta)
                handles.append(previous.handle)
                continue
            }
            // An unfinished upload may resume; a finished one that expired starts over.
            let resume = previous.flatMap { p in
                p.complete ? nil : MediaHandle(id: p.handle, progress: p.progress, complete: false, expiresAt: p.expiresAt)
            }
            if previous != nil, resume == nil { try? store.dropMediaUpload(postId: post.id, position: position) }
            let context = UploadContext(step: self, post: post, position: position, attachment: attachment, media: media,
                                        platform: adapter.platform, meta: meta)
            let started = SteadyClock.monotonicMillis()
            let handle = try uploader.upload(attachment, resume: resume, context: context)
            context.checkpoint(handle)
            logger.info("media \(position + 1)/\(attachments.count) uploaded (\(attachment.bytes) bytes, \(SteadyClock.monotonicMillis() - started) ms\(resume == nil ? "" : ", resumed")): \(short(handle.id))", metadata: meta)
            handles.append(handle.id)
        }
        crash(.afterUploads)
        return handles
    }

    func short(_ handle: String) -> String { handle.count > 80 ? String(handle.prefix(80)) + "…" : handle }

    /// Keeps the claim alive while uploads run; false once another owner or state holds it.
    func extendClaim(_ post: Post) -> Bool {
        do {
            return try store.extendClaim(postId: post.id, owner: owner, now: SteadyClock.wallMillis(), leaseMillis: settings.leaseMillis)
        } catch {
            // A store hiccup: the lease still has time (it is extended at every request).
            logger.warning("cannot extend the claim while uploading: \(error)", metadata: ["POST_ID": "\(post.id)"])
            return true
        }
    }
}

/// One attachment's upload as the adapter sees it: bytes from the media store, checkpoints
/// into the store, waits between processing polls. Used on the attempt's thread only.
final class UploadContext: MediaUploadContext {
    let step: MediaUploadStep
    let post: Post
    let position: Int
    let attachment: MediaAttachment
    let media: MediaStore
    let platform: Platform
    let meta: Logger.Metadata

    init(step: MediaUploadStep, post: Post, position: Int, attachment: MediaAttachment, media: MediaStore, platform: Platform,
         meta: Logger.Metadata) {
        self.step = step
        self.post = post
        self.position = position
        self.attachment = attachment
        self.media = media
        self.platform = platform
        self.meta = meta
    }

    var segmentBytes: Int { step.settings.mediaChunkBytes }

    func timeoutMillis(bytes: Int64) -> Int { Int(step.settings.mediaTimeoutMillis(bytes: bytes)) }

    /// The bytes from `offset`; the claim is extended now and, while they are read, every
    /// quarter lease (a transfer may outlast the lease).
    func open(_ attachment: MediaAttachment, at offset: Int64) throws(HTTPBodySourceError) -> any HTTPBodySource {
        guard step.extendClaim(post) else { throw HTTPBodySourceError("the claim on post \(post.id) was lost: the upload stops") }
        do {
            let reader = try media.open(attachment.sha256)
            reader.seek(to: offset)
            let step = self.step, post = self.post
            return MediaBodySource(reader: reader, keepAliveMillis: max(250, step.settings.leaseMillis / 4)) { step.extendClaim(post) }
        } catch {
            throw HTTPBodySourceError("\(error)")
        }
    }

    func checkpoint(_ handle: MediaHandle) {
        let upload = MediaUpload(postId: post.id, position: position, sha256: attachment.sha256, handle: handle.id,
                                 progress: handle.progress, complete: handle.complete, expiresAt: handle.expiresAt,
                                 updatedAt: SteadyClock.wallMillis())
        do { try step.store.saveMediaUpload(upload) } catch {
            // Only resumption is lost: a restarted worker uploads this attachment again.
            step.logger.warning("cannot store the upload's progress: \(error)", metadata: meta)
        }
        if !handle.complete, let next = handle.progress.flatMap(Int.init), next > 0 { step.crash(.betweenSegments) }
    }

    func waitForProcessing(suggestedMillis: Int64, poll: Int) throws(PlatformError) {
        guard poll <= step.maxPolls else {
            throw PlatformError(platform: platform, errorClass: .noEffect, evidence: ErrorEvidence(operation: "upload"),
                                message: "media \(position + 1) still processing after \(poll - 1) polls: the post waits for a later try")
        }
        sleepMillis(max(1, min(suggestedMillis, step.settings.mediaPollMaxMillis)))
        guard step.extendClaim(post) else {
            throw PlatformError(platform: platform, errorClass: .noEffect, evidence: ErrorEvidence(operation: "upload"),
                                message: "the claim on the post was lost while its media processed")
        }
    }
}

/// A media store item as a streamed request body: each read goes straight from the file
/// into libcurl's buffer (at most the store's chunk size at a time).
final class MediaBodySource: HTTPBodySource {
    let reader: MediaReader
    let keepAliveMillis: Int64
    /// Extends the claim; false when it is lost (the transfer is then aborted).
    let keepAlive: () -> Bool
    var lastKeptAlive = SteadyClock.monotonicMillis()

    init(reader: MediaReader, keepAliveMillis: Int64, keepAlive: @escaping () -> Bool) {
        self.reader = reader
        self.keepAliveMillis = keepAliveMillis
        self.keepAlive = keepAlive
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(HTTPBodySourceError) -> Int {
        let now = SteadyClock.monotonicMillis()
        if now - lastKeptAlive >= keepAliveMillis {
            lastKeptAlive = now
            guard keepAlive() else { throw HTTPBodySourceError("the claim on the post was lost during the upload") }
        }
        do { return try reader.read(into: buffer) } catch { throw HTTPBodySourceError("\(error)") }
    }
}
