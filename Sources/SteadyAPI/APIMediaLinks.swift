import Hummingbird
import NIOCore
import SteadyCore
import SteadyMedia

/// `GET /media/EXPIRES/TAG/MAC/SHA256.EXT`: a stored item, for a platform that fetches media by
/// URL (Instagram, Threads), through a link the posting worker signed (`MediaLinks`). No
/// token: the MAC is the credential. Anything wrong with a link — a bad or expired MAC, an
/// unknown item — is the same 404, so nothing can be learnt by probing.
extension APIService {
    func mediaLink(_ context: APIRequestContext) -> APIAnswer {
        let p = context.parameters
        let notFound = APIAnswer.error(404, "not-found", field: nil, "no such media link (it may have expired)")
        guard let links = mediaLinks, let media,
              let sha = links.verify(expires: p.get("expires") ?? "", tag: p.get("tag") ?? "", mac: p.get("mac") ?? "",
                                     file: p.get("file") ?? "", nowSeconds: SteadyClock.wallMillis() / 1000) else {
            count("media_links_refused")
            return notFound
        }
        let item: MediaItem
        do { item = try media.open(sha).item } catch {
            count("media_links_refused")
            return notFound
        }
        count("media_links_served")
        var answer = APIAnswer(status: 200, contentType: item.type.mimeType, body: [])
        answer.media = MediaBody(store: media, sha256: sha, bytes: item.bytes)
        return answer
    }
}

/// A stored item as a response body, read chunk by chunk as it is written (never whole in
/// memory). A read that fails midway ends the connection: the client sees a short body
/// against its Content-Length, never different bytes.
struct MediaBody: Sendable {
    let store: MediaStore
    let sha256: String
    let bytes: Int64

    var responseBody: ResponseBody {
        ResponseBody(contentLength: Int(bytes)) { [store, sha256] writer in
            let reader = try store.open(sha256)
            while let chunk = try reader.nextChunk() {
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
        }
    }
}
