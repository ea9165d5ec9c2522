import SteadyCore
import SteadyHTTP

/// Bluesky's `com.atproto.repo.uploadBlob` (PLATFORMS.md, "Media attachments"): the raw
/// bytes, streamed from the media store, with their `Content-Type` → a blob reference, kept
/// as its JSON. A blob no record references is garbage-collected after a window, so uploads
/// happen right before the create and a stored reference counts as short-lived; the same
/// bytes give the same CID, so uploading again is harmless.
extension BlueskyAdapter: MediaUploading {
    /// How long a stored blob reference is reused (well inside the collection window).
    static let blobReuseMs: Int64 = 10 * 60_000

    public func upload(_ attachment: MediaAttachment, resume: MediaHandle?, context: any MediaUploadContext) throws(PlatformError) -> MediaHandle {
        let (token, _) = try requireSession("upload")
        let source = try transport.open(attachment, at: 0, context: context, operation: "upload")
        let body = HTTPStreamBody(source: source, length: attachment.bytes, contentType: attachment.type.mimeType)
        var request = xrpc(.post, "com.atproto.repo.uploadBlob", bearer: token)
        request.timeoutMillis = context.timeoutMillis(bytes: attachment.bytes)
        let response = try transport.send(request, operation: "upload", kind: .upload, streaming: body)
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: "upload", kind: .upload) }
        let json = try transport.json(response, request: request, operation: "upload", kind: .upload)
        guard let blob = json["blob"], blob["ref"]?["$link"]?.string != nil else {
            throw transport.malformed(response, request: request, operation: "upload", kind: .upload, what: "no blob ref")
        }
        return MediaHandle(id: blob.serialized, complete: true, expiresAt: transport.now() + Self.blobReuseMs)
    }

    /// The record's `embed` for the draft's media: images with alt text, or one video.
    static func embed(_ draft: PostDraft) throws(PlatformError) -> JSON? {
        guard !draft.mediaHandles.isEmpty else { return nil }
        var blobs: [JSON] = []
        for handle in draft.mediaHandles {
            guard let blob = try? JSON.parse(handle) else {
                throw PlatformError(platform: .bluesky, errorClass: .permanent(reason: "a stored blob reference is not JSON"),
                                    evidence: ErrorEvidence(operation: "create"), message: "a stored blob reference is not JSON (nothing was sent)")
            }
            blobs.append(blob)
        }
        if let first = draft.media.first, first.type.kind == .video {
            return JSON.obj([("$type", JSON("app.bsky.embed.video")), ("video", blobs[0]), ("alt", first.alt.map(JSON.init))])
        }
        let images = zip(blobs, draft.media).map { blob, item in JSON.obj([("image", blob), ("alt", JSON(item.alt ?? ""))]) }
        return JSON.obj([("$type", JSON("app.bsky.embed.images")), ("images", .array(images))])
    }
}
