import SteadyCore
import SteadyHTTP

/// Mastodon's media upload (PLATFORMS.md, "Media attachments"): `POST /api/v2/media`
/// (multipart `file`, streamed from the media store, and `description` = alt text) → 200
/// when processed, 202 while processing; then `GET /api/v1/media/:id` (206 processing, 200
/// done, 422 failed) until done. No chunking: an upload the platform no longer knows starts
/// over. A handle accepted but still processing is checkpointed, so a restart polls it
/// instead of uploading again.
extension MastodonAdapter: MediaUploading {
    /// Mastodon removes media no status names after a while (a day on a default instance):
    /// a stored handle older than this is uploaded again.
    static let unattachedLifetimeMs: Int64 = 6 * 3_600_000

    public func upload(_ attachment: MediaAttachment, resume: MediaHandle?, context: any MediaUploadContext) throws(PlatformError) -> MediaHandle {
        if let resume, !resume.complete, resume.expiresAt.map({ transport.now() + 60_000 < $0 }) ?? true {
            do throws(PlatformError) {
                return try awaitProcessing(resume, context: context)
            } catch {
                guard error.evidence.httpStatus == 404 else { throw error }
            }
        }
        var fields: [(String, String)] = []
        if let alt = attachment.alt, !alt.isEmpty { fields.append(("description", alt)) }
        let request = authorized(.post, "/api/v2/media")
        let (response, json) = try transport.uploadMultipart(request, attachment, fields: fields, fileField: "file", context: context)
        guard let id = json["id"]?.stringOrNumber else {
            throw transport.malformed(response, request: request, operation: "upload", kind: .upload, what: "no media id")
        }
        let handle = MediaHandle(id: id, complete: false, expiresAt: transport.now() + Self.unattachedLifetimeMs)
        // 200 with a url: processed. 202 (url null): poll until it is.
        if response.status == 200, !(json["url"]?.isNull ?? true) {
            var done = handle
            done.complete = true
            return done
        }
        context.checkpoint(handle)
        return try awaitProcessing(handle, context: context)
    }

    /// Polls `GET /api/v1/media/:id` until processed; a processing failure is permanent.
    private func awaitProcessing(_ handle: MediaHandle, context: any MediaUploadContext) throws(PlatformError) -> MediaHandle {
        var poll = 0
        while true {
            let request = authorized(.get, "/api/v1/media/\(handle.id)")
            let response = try transport.send(request, operation: "upload-status", kind: .upload)
            switch response.status {
            case 200:
                var done = handle
                done.complete = true
                return done
            case 206:
                poll += 1
                try context.waitForProcessing(suggestedMillis: 1_000, poll: poll)
            case 422:
                let why = transport.excerpt(response.body) ?? "HTTP 422"
                throw PlatformError(platform: platform, errorClass: .permanent(reason: "Mastodon media processing failed: \(why)"),
                                    evidence: transport.evidence(response, request: request, operation: "upload-status", platformError: nil),
                                    message: "Mastodon media \(handle.id) processing failed: \(why)")
            default:
                throw transport.failure(response, request: request, operation: "upload-status", kind: .upload)
            }
        }
    }

    /// The create's refusal for media still processing: nothing was published, try again
    /// later (`noEffect`), never a failure.
    static func isStillProcessing(_ response: HTTPResponse) -> Bool {
        response.status == 422 && response.text.contains("have not finished processing")
    }
}
