import SteadyCore
import SteadyHTTP

/// Facebook's photo upload (PLATFORMS.md, "Facebook Pages"): `POST /{page-id}/photos` with
/// multipart `source` (streamed from the media store) and `published=false` → `{"id"}`. An
/// unpublished photo is seen by nobody until the feed post names it in `attached_media`, so a
/// lost answer is repeated, never verified (the orphan stays unpublished). No processing step
/// and nothing to resume: the posting step reuses a stored handle until it expires.
extension FacebookAdapter: MediaUploading {
    /// Unpublished photos nobody names are dropped by Facebook after a while: a stored handle
    /// older than this is uploaded again.
    static let unattachedLifetimeMs: Int64 = 6 * 3_600_000

    public func upload(_ attachment: MediaAttachment, resume: MediaHandle?, context: any MediaUploadContext) throws(PlatformError) -> MediaHandle {
        var fields: [(String, String)] = [("published", "false")]
        if let alt = attachment.alt, !alt.isEmpty { fields.append(("alt_text_custom", alt)) }
        let request = authorized(.post, "/\(credentials.pageId)/photos")
        let (response, json) = try transport.uploadMultipart(request, attachment, fields: fields, fileField: "source", context: context)
        guard let id = json["id"]?.stringOrNumber, !id.isEmpty else {
            throw transport.malformed(response, request: request, operation: "upload", kind: .upload, what: "no photo id")
        }
        return MediaHandle(id: id, complete: true, expiresAt: transport.now() + Self.unattachedLifetimeMs)
    }
}
