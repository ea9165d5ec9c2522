import Hummingbird
import SteadyCore
import SteadyMedia
import SteadyPlatforms

/// `POST /api/media`: the raw body (any Content-Type) is an image or video, streamed into the
/// daemon's media store chunk by chunk as it arrives (never whole in memory), answered with
/// `{"sha256","type","bytes"}`; posts then name it as `"media": [{"sha256", "alt"?}]`.
/// Refusals: 413 past the store's bound (from Content-Length before a byte is read, else as
/// soon as the count passes it), 415 for content that is no image or video (from its first
/// bytes), 400 for an empty or cut-off body.
extension APIService {
    func uploadMedia(_ request: Request) async -> APIAnswer {
        guard let media else { return .error(503, "unavailable", field: nil, "the api worker has no media store open") }
        let limit = media.maxBytes
        if let declared = request.headers[.contentLength].flatMap({ Int64($0) }), declared > limit {
            return .error(413, "too-large", field: "body", "the body is \(declared) bytes; the media store takes at most \(limit) bytes a file")
        }
        let writer: MediaWriter
        do { writer = try media.writer(name: "the request body") } catch {
            return .error(500, "store", field: nil, "cannot write to the media store: \(error)")
        }
        do {
            for try await buffer in request.body {
                try buffer.withUnsafeReadableBytes { try writer.append($0) }
            }
        } catch let error as MediaError {
            return Self.refusal(error, bytes: writer.bytes, limit: limit)
        } catch {
            writer.abort()
            return .error(400, "invalid", field: "body", "the body ended before it was whole: \(error)")
        }
        guard writer.bytes > 0 else {
            writer.abort()
            return .error(400, "invalid", field: "body", "the body is empty: send the file's bytes as the request body")
        }
        do {
            let put = try writer.finish()
            count("media_uploads")
            return .json(201, JSON.obj([("sha256", JSON(put.item.sha256)), ("type", JSON(put.item.type.rawValue)),
                                        ("bytes", JSON(put.item.bytes))]).bytes)
        } catch {
            return Self.refusal(error, bytes: writer.bytes, limit: limit)
        }
    }

    static func refusal(_ error: MediaError, bytes: Int64, limit: Int64) -> APIAnswer {
        switch error.reason {
        case .refused where bytes > limit:
            return .error(413, "too-large", field: "body", "\(error)")
        case .refused:
            return .error(415, "unsupported-media", field: "body", "\(error)")
        case .system, .notFound:
            return .error(500, "store", field: nil, "\(error)")
        }
    }
}
