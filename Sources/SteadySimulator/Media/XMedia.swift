import Foundation
import SteadyCore

/// X's media limits (PLATFORMS.md "Media attachments").
enum XMediaLimits {
    static let imageBytes = 5 << 20
    static let gifBytes = 15 << 20
    static let videoBytes = 512 << 20
    static let segmentBytes = 5 << 20
    static let maxSegments = 1_000
    static let expiresAfterSecs: Int64 = 1_296_000
    static let altTextCharacters = 1_000

    static func maxBytes(category: String) -> Int {
        switch category {
        case "tweet_gif": return gifBytes
        case "tweet_video", "amplify_video": return videoBytes
        default: return imageBytes
        }
    }
}

extension Store {
    /// Every field of an X upload request: query, form or JSON body, and the non-file parts of a
    /// multipart body (whose `media` part is returned apart).
    static func xUploadFields(_ request: SimRequest) -> (fields: [(String, String)], media: ArraySlice<UInt8>?) {
        guard request.contentType == "multipart/form-data" else {
            let params = request.params
            let data = params.last { $0.0 == "media_data" }?.1
            return (params.filter { $0.0 != "media_data" }, data.flatMap(decodeBase64))
        }
        guard let boundary = Multipart.boundary(request.header("content-type")),
            let parts = Multipart.parse(request.body, boundary: boundary)
        else { return (request.query, nil) }
        var fields = request.query
        var media: ArraySlice<UInt8>?
        for part in parts {
            if part.name == "media" {
                media = part.body
            } else if part.name == "media_data" {
                media = decodeBase64(String(decoding: part.body, as: UTF8.self))
            } else {
                fields.append((part.name, String(decoding: part.body, as: UTF8.self)))
            }
        }
        return (fields, media)
    }

    private static func decodeBase64(_ text: String) -> ArraySlice<UInt8>? {
        Data(base64Encoded: text, options: .ignoreUnknownCharacters).map { [UInt8]($0)[...] }
    }

    /// The media key X gives an id: `3_` images, `16_` GIFs, `7_` videos.
    static func xMediaKey(_ media: MediaObject) -> String {
        let kind = media.format?.kind ?? (media.category == "tweet_gif" ? "gif" : media.category == "tweet_image" ? "image" : "video")
        return MediaFormat.xKeyPrefix(kind: kind) + media.id
    }

    /// The upload's answer body (`data` of INIT, FINALIZE and STATUS).
    func xMediaJSON(_ media: MediaObject, now: Int64, processing: Bool) -> JSON {
        var data: JSON = [
            "id": .string(media.id),
            "media_key": .string(Store.xMediaKey(media)),
            "expires_after_secs": .int(max(0, ((media.expiresMs ?? now) - now) / 1000)),
        ]
        if media.state != .uploading { data = data.setting("size", .int(Int64(media.byteCount))) }
        if processing {
            var info: JSON = ["state": .string(media.state.rawValue)]
            switch media.state {
            case .pending, .inProgress:
                info = info.setting("check_after_secs", 1)
                let done = media.state == .pending ? 0 : 50
                info = info.setting("progress_percent", .int(Int64(done)))
            case .succeeded:
                info = info.setting("progress_percent", 100)
            case .failed:
                info = info.setting(
                    "error", ["code": 1, "name": "InvalidMedia", "message": "Unsupported video format"])
            case .uploading:
                break
            }
            data = data.setting("processing_info", info)
        }
        return ["data": data]
    }

    /// Applies a `slow-processing` or `processing-failure` fault to the upload it hit.
    mutating func applyProcessingFault(_ ex: Exchange, mediaID: String) {
        guard let fault = ex.processingFault else { return }
        if fault.kind == .processingFailure { media[mediaID]?.failsProcessing = true }
        if fault.kind == .slowProcessing { media[mediaID]?.slowPolls = fault.polls }
    }

    /// `POST /2/media/upload` with `command` INIT, APPEND or FINALIZE.
    mutating func xMediaUpload(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch xAuthenticate(&ex) {
        case .success(let a): account = a
        case .failure(let response): return response
        }
        let (fields, payload) = Store.xUploadFields(ex.request)
        func field(_ name: String) -> String? { fields.last { $0.0 == name }?.1 }
        let headers = ex.rateHeaders
        let command = (field("command") ?? "").uppercased()
        if command == "INIT" {
            guard let total = field("total_bytes").flatMap(Int.init), total > 0 else {
                return ErrorBodies.xInvalidRequest("total_bytes is required", parameter: "total_bytes", headers: headers)
            }
            guard let mediaType = field("media_type"), !mediaType.isEmpty else {
                return ErrorBodies.xInvalidRequest("media_type is required", parameter: "media_type", headers: headers)
            }
            let category = field("media_category") ?? (mediaType.hasPrefix("video/") ? "tweet_video" : mediaType == "image/gif" ? "tweet_gif" : "tweet_image")
            guard ["tweet_image", "tweet_gif", "tweet_video", "amplify_video"].contains(category) else {
                return ErrorBodies.xInvalidRequest(
                    "media_category is invalid", parameter: "media_category", value: category, headers: headers)
            }
            guard total <= XMediaLimits.maxBytes(category: category) else {
                return ErrorBodies.xInvalidRequest(
                    "total_bytes exceeds the limit of \(XMediaLimits.maxBytes(category: category)) for \(category)",
                    parameter: "total_bytes", value: String(total), headers: headers)
            }
            var object = MediaObject(id: String(takeMediaID()), platform: .x, account: account.name, createdMs: ex.now)
            object.declaredBytes = total
            object.declaredType = mediaType
            object.category = category
            object.expiresMs = ex.now + XMediaLimits.expiresAfterSecs * 1000
            media[object.id] = object
            return .json(202, xMediaJSON(object, now: ex.now, processing: false), headers: headers)
        }
        guard command == "APPEND" || command == "FINALIZE" else {
            return ErrorBodies.xInvalidRequest(
                "command must be INIT, APPEND, FINALIZE or STATUS", parameter: "command", value: command, headers: headers)
        }
        let id = field("media_id") ?? ""
        guard var object = media[id], object.platform == .x, object.account == account.name,
            (object.expiresMs ?? .max) > ex.now
        else {
            return ErrorBodies.xInvalidRequest("media_id is invalid or expired", parameter: "media_id", value: id, headers: headers)
        }
        guard object.state == .uploading else {
            return ErrorBodies.xInvalidRequest("The media is already finalized.", parameter: "media_id", value: id, headers: headers)
        }
        if command == "APPEND" {
            guard let index = field("segment_index").flatMap(Int.init), (0..<XMediaLimits.maxSegments).contains(index) else {
                return ErrorBodies.xInvalidRequest(
                    "segment_index must be 0-999", parameter: "segment_index", headers: headers)
            }
            guard let payload, !payload.isEmpty else {
                return ErrorBodies.xInvalidRequest("media is required", parameter: "media", headers: headers)
            }
            guard payload.count <= XMediaLimits.segmentBytes else {
                return ErrorBodies.xInvalidRequest("A segment is at most 5 MB.", parameter: "media", headers: headers)
            }
            // A segment sent again (its answer lost) changes nothing already hashed.
            if index >= object.nextSegment {
                let waiting = object.pendingSegments.filter { $0.key != index }.values.reduce(0) { $0 + $1.count }
                guard object.byteCount + waiting + payload.count <= object.declaredBytes else {
                    return ErrorBodies.xInvalidRequest(
                        "Segments exceed the total_bytes given at INIT.", parameter: "media", headers: headers)
                }
                // The next segment in order is hashed straight from the request body; only one
                // that arrived early is copied to wait for the gap.
                if index == object.nextSegment {
                    object.feed(payload)
                    object.nextSegment += 1
                } else {
                    object.pendingSegments[index] = Array(payload)
                }
                while let next = object.pendingSegments.removeValue(forKey: object.nextSegment) {
                    object.feed(next)
                    object.nextSegment += 1
                }
            }
            media[id] = object
            return .json(
                200, ["data": ["expires_at": .int(((object.expiresMs ?? ex.now) / 1000))]], headers: headers)
        }
        // FINALIZE
        guard object.pendingSegments.isEmpty, object.byteCount == object.declaredBytes else {
            return ErrorBodies.xInvalidRequest(
                "File size does not match the total_bytes given at INIT (or a segment is missing).",
                parameter: "media_id", value: id, headers: headers)
        }
        media[id] = object
        applyProcessingFault(ex, mediaID: id)
        object = media[id]!
        object.seal()
        let expected: Set<String> =
            object.category == "tweet_gif" ? ["gif"] : object.category == "tweet_image" ? ["image"] : ["video"]
        guard let format = object.format, expected.contains(format.kind) else {
            media[id] = nil
            return ErrorBodies.xInvalidRequest(
                "media type unrecognized.", parameter: "media_id", value: id, headers: headers)
        }
        let processes = format.kind != "image" || object.slowPolls != nil || object.failsProcessing
        if processes {
            object.state = .pending
            object.pollsLeft = object.slowPolls ?? 2
        } else {
            object.state = .succeeded
        }
        media[id] = object
        return .json(201, xMediaJSON(object, now: ex.now, processing: processes), headers: headers)
    }

    /// `GET /2/media/upload?command=STATUS&media_id=…`: one poll of the processing.
    mutating func xMediaStatus(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch xAuthenticate(&ex) {
        case .success(let a): account = a
        case .failure(let response): return response
        }
        let id = ex.request.queryValue("media_id") ?? ""
        guard var object = media[id], object.platform == .x, object.account == account.name,
            (object.expiresMs ?? .max) > ex.now, object.state != .uploading
        else {
            return ErrorBodies.xInvalidRequest("media_id is invalid or expired", parameter: "media_id", value: id, headers: ex.rateHeaders)
        }
        object.poll()
        media[id] = object
        return .json(200, xMediaJSON(object, now: ex.now, processing: true), headers: ex.rateHeaders)
    }

    /// `POST /2/media/metadata` `{"id", "metadata": {"alt_text": {"text"}}}`.
    mutating func xMediaMetadata(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch xAuthenticate(&ex) {
        case .success(let a): account = a
        case .failure(let response): return response
        }
        let headers = ex.rateHeaders
        guard let body = JSON.parse(ex.request.body), let id = body["id"]?.stringValue else {
            return ErrorBodies.xInvalidRequest("id is required", parameter: "id", headers: headers)
        }
        guard media[id]?.platform == .x, media[id]?.account == account.name, (media[id]?.expiresMs ?? .max) > ex.now else {
            return ErrorBodies.xInvalidRequest("media_id is invalid or expired", parameter: "id", value: id, headers: headers)
        }
        guard let text = body["metadata"]?["alt_text"]?["text"]?.stringValue else {
            return ErrorBodies.xInvalidRequest(
                "metadata.alt_text.text is required", parameter: "metadata.alt_text.text", headers: headers)
        }
        guard text.count <= XMediaLimits.altTextCharacters else {
            return ErrorBodies.xInvalidRequest(
                "Alt text is at most 1000 characters.", parameter: "metadata.alt_text.text", headers: headers)
        }
        media[id]?.alt = text
        return .json(
            200, ["data": ["id": .string(id), "associated_metadata": ["alt_text": ["text": .string(text)]]]],
            headers: headers)
    }

    /// Checks `media.media_ids` of a create: known, this account's, unexpired, processed; at most
    /// 4 images or 1 GIF or 1 video. The media in order, or X's refusal.
    func xPostMedia(_ ids: [String], account: String, now: Int64, headers: [(String, String)])
        -> Result<[PostMedia], SimResponse>
    {
        var out: [PostMedia] = []
        for id in ids {
            guard let object = media[id], object.platform == .x, object.account == account,
                (object.expiresMs ?? .max) > now, object.state == .succeeded, let item = object.postMedia
            else {
                return .failure(
                    ErrorBodies.xInvalidRequest(
                        "Your media IDs are invalid.", parameter: "media.media_ids", value: id, headers: headers))
            }
            out.append(item)
        }
        let motion = out.filter { $0.format.kind != "image" }.count
        if out.count > 4 || (motion > 0 && out.count > 1) {
            return .failure(
                ErrorBodies.xInvalidRequest(
                    "Your media IDs are invalid.", parameter: "media.media_ids", value: ids.joined(separator: ","),
                    headers: headers))
        }
        return .success(out)
    }

    /// The `includes.media` object of one attached media item.
    static func xIncludedMedia(_ item: PostMedia) -> JSON {
        let type = item.format.kind == "image" ? "photo" : item.format.kind == "gif" ? "animated_gif" : "video"
        var json: JSON = [
            "media_key": .string(MediaFormat.xKeyPrefix(kind: item.format.kind) + item.mediaID), "type": .string(type),
        ]
        if let alt = item.alt { json = json.setting("alt_text", .string(alt)) }
        return json
    }
}
