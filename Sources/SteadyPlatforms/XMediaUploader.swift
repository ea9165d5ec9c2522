import SteadyCore
import SteadyHTTP

/// X's chunked media upload (PLATFORMS.md, "Media attachments"): INIT → APPEND segment by
/// segment (each read from the media store as it is sent) → FINALIZE → STATUS while it
/// processes → alt text by `POST /2/media/metadata`. Progress (the next segment, then
/// `finalized`) is checkpointed after every step, so a restarted worker resumes an unexpired
/// upload where it stopped; one the platform no longer knows (expired, refused) starts over.
extension XAdapter: MediaUploading {
    /// X takes at most 5 MB a segment.
    public static let maxSegmentBytes = 5 << 20
    static let finalized = "finalized"

    public func upload(_ attachment: MediaAttachment, resume: MediaHandle?, context: any MediaUploadContext) throws(PlatformError) -> MediaHandle {
        if let resume, !resume.complete, resume.expiresAt.map({ transport.now() + 60_000 < $0 }) ?? true {
            do throws(PlatformError) {
                return try proceed(attachment, resume, context: context)
            } catch {
                // The platform refuses the handle (expired early, failed, already finalized
                // with the answer lost): start over. Anything else is the caller's to retry.
                guard case .permanent = error.errorClass, !error.message.contains("processing failed") else { throw error }
            }
        }
        let handle = try initialize(attachment)
        context.checkpoint(handle)
        return try proceed(attachment, handle, context: context)
    }

    /// APPENDs from the handle's next segment on, FINALIZE, STATUS until done, metadata.
    private func proceed(_ attachment: MediaAttachment, _ start: MediaHandle, context: any MediaUploadContext) throws(PlatformError) -> MediaHandle {
        var handle = start
        let segment = Int64(max(1, min(context.segmentBytes, Self.maxSegmentBytes)))
        let segments = max(1, Int((attachment.bytes + segment - 1) / segment))
        if handle.progress != Self.finalized {
            var next = handle.progress.flatMap(Int.init) ?? 0
            while next < segments {
                let offset = Int64(next) * segment
                try append(attachment, id: handle.id, index: next, offset: offset, length: min(segment, attachment.bytes - offset), context: context)
                next += 1
                handle.progress = String(next)
                context.checkpoint(handle)
            }
            let processing = try finalize(handle.id)
            handle.progress = Self.finalized
            context.checkpoint(handle)
            if let processing { try awaitProcessing(handle.id, first: processing, context: context) }
        } else {
            try awaitProcessing(handle.id, first: nil, context: context)
        }
        if let alt = attachment.alt, !alt.isEmpty { try describe(handle.id, alt: alt) }
        handle.complete = true
        handle.progress = nil
        return handle
    }

    private func initialize(_ attachment: MediaAttachment) throws(PlatformError) -> MediaHandle {
        let category: String
        switch attachment.type.kind {
        case .image: category = "tweet_image"
        case .gif: category = "tweet_gif"
        case .video: category = "tweet_video"
        }
        let form: [(String, String)] = [("command", "INIT"), ("total_bytes", String(attachment.bytes)),
                                        ("media_type", attachment.type.mimeType), ("media_category", category)]
        let request = formRequest("/2/media/upload", form)
        let (response, json) = try transport.sendExpectingJSON(request, operation: "upload", kind: .upload)
        // The v2 answer nests under `data`; v1.1-shaped ones carry media_id_string at the top.
        let data = json["data"] ?? json
        guard let id = data["id"]?.stringOrNumber ?? data["media_id_string"]?.string ?? data["media_id"]?.stringOrNumber else {
            throw transport.malformed(response, request: request, operation: "upload", kind: .upload, what: "no media id")
        }
        let expires = (data["expires_after_secs"]?.int).map { transport.now() + Int64($0) * 1000 }
        return MediaHandle(id: id, progress: "0", complete: false, expiresAt: expires)
    }

    private func append(_ attachment: MediaAttachment, id: String, index: Int, offset: Int64, length: Int64,
                        context: any MediaUploadContext) throws(PlatformError) {
        let source = try transport.open(attachment, at: offset, context: context, operation: "upload")
        let body = HTTPStreamBody.multipart(fields: [("command", "APPEND"), ("media_id", id), ("segment_index", String(index))],
                                            fileField: "media", fileName: attachment.type.uploadFileName, fileType: "application/octet-stream",
                                            source: source, length: length, boundary: AdapterTransport.boundary())
        var request = authorized(.post, "/2/media/upload")
        request.timeoutMillis = context.timeoutMillis(bytes: length)
        let response = try transport.send(request, operation: "upload", kind: .upload, streaming: body)
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: "upload", kind: .upload) }
    }

    /// FINALIZE; the processing state when the platform processes it (video, GIF).
    private func finalize(_ id: String) throws(PlatformError) -> JSON? {
        let request = formRequest("/2/media/upload", [("command", "FINALIZE"), ("media_id", id)])
        let (_, json) = try transport.sendExpectingJSON(request, operation: "upload", kind: .upload)
        return (json["data"] ?? json)["processing_info"]
    }

    /// STATUS until `succeeded`; `failed` is permanent (the post cannot carry it).
    private func awaitProcessing(_ id: String, first: JSON?, context: any MediaUploadContext) throws(PlatformError) {
        var info = first
        var poll = 0
        while true {
            if let info {
                switch info["state"]?.string ?? "succeeded" {
                case "succeeded":
                    return
                case "failed":
                    let why = info["error"]?["message"]?.string ?? info["error"]?["name"]?.string ?? "no reason given"
                    throw transport.local(.permanent(reason: "X media processing failed: \(why)"), operation: "upload",
                                          "X media \(id) processing failed: \(why)")
                default:
                    poll += 1
                    try context.waitForProcessing(suggestedMillis: Int64(info["check_after_secs"]?.int ?? 1) * 1000, poll: poll)
                }
            }
            let request = authorized(.get, "/2/media/upload", query: [("command", "STATUS"), ("media_id", id)])
            let (_, json) = try transport.sendExpectingJSON(request, operation: "upload-status", kind: .upload)
            info = (json["data"] ?? json)["processing_info"] ?? .obj([("state", JSON("succeeded"))])
        }
    }

    private func describe(_ id: String, alt: String) throws(PlatformError) {
        let body = JSON.obj([("id", JSON(id)), ("metadata", .obj([("alt_text", .obj([("text", JSON(String(alt.prefix(1_000))))]))]))])
        let request = authorized(.post, "/2/media/metadata", json: body)
        _ = try transport.sendExpectingJSON(request, operation: "upload-metadata", kind: .upload)
    }

    private func formRequest(_ path: String, _ form: [(String, String)]) -> HTTPRequest {
        var request = authorized(.post, path)
        request.headers.set("Content-Type", "application/x-www-form-urlencoded")
        request.body = Array(URLEncoding.query(form).utf8)
        return request
    }
}
