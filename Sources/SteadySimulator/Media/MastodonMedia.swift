import Foundation
import SteadyCore

/// Mastodon's media limits (PLATFORMS.md "Media attachments").
enum MastodonMediaLimits {
    static let imageBytes = 16 << 20
    static let videoBytes = 99 << 20
    static let perStatus = 4
    static let descriptionCharacters = 1_500
}

extension Store {
    /// The MediaAttachment entity (`url` null while processing).
    func mastodonMediaJSON(_ object: MediaObject, origin: String) -> JSON {
        let kind = object.format?.kind ?? "unknown"
        let type = kind == "gif" ? "gifv" : kind
        let ext = object.format?.rawValue ?? "bin"
        let done = object.state == .succeeded
        let url = "\(origin)/system/media_attachments/files/\(object.id)/original/file.\(ext)"
        return [
            "id": .string(object.id),
            "type": .string(type),
            "url": done ? .string(url) : .null,
            "preview_url": .string("\(origin)/system/media_attachments/files/\(object.id)/small/file.png"),
            "remote_url": nil,
            "preview_remote_url": nil,
            "text_url": nil,
            "meta": [:],
            "description": .optional(object.alt),
            "blurhash": nil,
        ]
    }

    /// `POST /api/v2/media` (multipart `file`, `description`, `focus`): 200 when processed at
    /// once (images), 202 with `url: null` while processing (GIF, video, or a slow-processing
    /// fault).
    mutating func mastodonMediaUpload(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch mastodonAuthenticate(&ex, required: true) {
        case .failure(let response): return response
        case .success(let a): account = a!
        }
        let headers = ex.rateHeaders
        guard ex.request.contentType == "multipart/form-data",
            let boundary = Multipart.boundary(ex.request.header("content-type")),
            let parts = Multipart.parse(ex.request.body, boundary: boundary),
            let file = parts.last(where: { $0.name == "file" })
        else {
            return ErrorBodies.mastodon(422, "Validation failed: File can't be blank", headers: headers)
        }
        let description = parts.last { $0.name == "description" }.map { String(decoding: $0.body, as: UTF8.self) }
        guard let format = MediaFormat.detect(file.body.prefix(12)) else {
            return ErrorBodies.mastodon(
                422, "Validation failed: File content type is invalid, File is invalid", headers: headers)
        }
        let limit = format.kind == "video" || format.kind == "gif" ? MastodonMediaLimits.videoBytes : MastodonMediaLimits.imageBytes
        guard file.body.count <= limit else {
            return ErrorBodies.mastodon(
                422, "Validation failed: File file size must be less than \(limit >> 20) MB", headers: headers)
        }
        if let description, description.count > MastodonMediaLimits.descriptionCharacters {
            return ErrorBodies.mastodon(
                422, "Validation failed: Description is too long (maximum is 1500 characters)", headers: headers)
        }
        var object = MediaObject(id: String(takeMediaID()), platform: .mastodon, account: account.name, createdMs: ex.now)
        object.feed(file.body)
        object.seal()
        object.alt = description.flatMap { $0.isEmpty ? nil : $0 }
        media[object.id] = object
        applyProcessingFault(ex, mediaID: object.id)
        object = media[object.id]!
        if format.kind == "image" && object.slowPolls == nil && !object.failsProcessing {
            object.state = .succeeded
            media[object.id] = object
            return .json(200, mastodonMediaJSON(object, origin: ex.request.origin), headers: headers)
        }
        object.state = .pending
        object.pollsLeft = object.slowPolls ?? 2
        media[object.id] = object
        return .json(202, mastodonMediaJSON(object, origin: ex.request.origin), headers: headers)
    }

    /// `GET /api/v1/media/:id`: one poll; 206 while processing, 200 done, 422 failed.
    mutating func mastodonMediaStatus(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch mastodonAuthenticate(&ex, required: true) {
        case .failure(let response): return response
        case .success(let a): account = a!
        }
        let id = ex.request.parameters["id"] ?? ""
        guard var object = media[id], object.platform == .mastodon, object.account == account.name else {
            return ErrorBodies.mastodon(404, "Record not found", headers: ex.rateHeaders)
        }
        object.poll()
        media[id] = object
        switch object.state {
        case .succeeded: return .json(200, mastodonMediaJSON(object, origin: ex.request.origin), headers: ex.rateHeaders)
        case .failed: return ErrorBodies.mastodon(422, "Error processing thumbnail for uploaded media", headers: ex.rateHeaders)
        default: return .json(206, mastodonMediaJSON(object, origin: ex.request.origin), headers: ex.rateHeaders)
        }
    }

    /// Checks `media_ids[]` of a create: this account's, unattached, processed; at most 4, and
    /// a video or GIF alone. The media in order, or Mastodon's refusal.
    func mastodonPostMedia(_ ids: [String], account: String, headers: [(String, String)])
        -> Result<[PostMedia], SimResponse>
    {
        guard ids.count <= MastodonMediaLimits.perStatus else {
            return .failure(ErrorBodies.mastodon(422, "Cannot attach more than 4 files", headers: headers))
        }
        var out: [PostMedia] = []
        for id in ids {
            guard let object = media[id], object.platform == .mastodon, object.account == account,
                object.attachedTo == nil
            else {
                return .failure(ErrorBodies.mastodon(404, "Record not found", headers: headers))
            }
            guard object.state == .succeeded, let item = object.postMedia else {
                return .failure(
                    ErrorBodies.mastodon(422, "Cannot attach files that have not finished processing. Try again in a moment!", headers: headers))
            }
            out.append(item)
        }
        if out.count > 1, out.contains(where: { $0.format.kind != "image" }) {
            return .failure(
                ErrorBodies.mastodon(422, "Cannot attach a video to a post that already contains images", headers: headers))
        }
        return .success(out)
    }

    /// The `media_attachments` of a post.
    func mastodonAttachmentsJSON(_ post: Post, origin: String) -> JSON {
        .array(post.media.compactMap { item in media[item.mediaID].map { mastodonMediaJSON($0, origin: origin) } })
    }
}
