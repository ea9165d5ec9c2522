import SteadyCore
import SteadyHTTP

/// What a platform gave back for one attachment's upload, so far: the handle the create names
/// (X `media_id`, Mastodon media id, a Bluesky blob as JSON), how far an unfinished upload
/// got (X: the next segment's index), whether it can be attached, and until when the
/// platform keeps it. The posting worker stores it (`MediaUpload`) after every step a
/// restarted worker could resume from.
public struct MediaHandle: Sendable, Equatable {
    public var id: String
    public var progress: String?
    public var complete: Bool
    public var expiresAt: Int64?

    public init(id: String, progress: String? = nil, complete: Bool, expiresAt: Int64? = nil) {
        self.id = id
        self.progress = progress
        self.complete = complete
        self.expiresAt = expiresAt
    }
}

/// What an upload needs from the posting worker: the bytes (from its media store, read on
/// demand), a place to record resumable states, and a way to wait between processing polls
/// (which also keeps the post's claim alive). Platform-neutral: an Instagram (fetch by URL)
/// or YouTube (resumable upload) adapter takes the same context.
public protocol MediaUploadContext: AnyObject {
    /// The largest piece one request carries (X: a segment, at most 5 MB) and the chunk the
    /// media store reads: the worker's memory bound per upload.
    var segmentBytes: Int { get }
    /// The attachment's bytes from `offset` to its end, read as they are sent.
    func open(_ attachment: MediaAttachment, at offset: Int64) throws(HTTPBodySourceError) -> any HTTPBodySource
    /// The total time allowed to a request carrying `bytes` of media (more than a create's:
    /// it grows with the size).
    func timeoutMillis(bytes: Int64) -> Int
    /// A state a restarted worker can resume from (called after each X segment, after an
    /// upload is accepted, once it is complete).
    func checkpoint(_ handle: MediaHandle)
    /// Waits before processing poll number `poll` (from 1); the platform suggested
    /// `suggestedMillis`. Throws (`noEffect`) when the attempt cannot wait any longer.
    func waitForProcessing(suggestedMillis: Int64, poll: Int) throws(PlatformError)
}

/// Adapters that take media. `upload` resumes `resume` when it can (an unfinished X upload,
/// a Mastodon upload still processing) and starts over when the platform no longer knows it.
/// An upload publishes nothing: a lost answer is `noEffect` and repeated, never verified.
public protocol MediaUploading: AnyObject {
    func upload(_ attachment: MediaAttachment, resume: MediaHandle?, context: any MediaUploadContext) throws(PlatformError) -> MediaHandle
}

extension AdapterTransport {
    /// Opens the attachment's bytes, a failure being the adapter's own (nothing sent).
    func open(_ attachment: MediaAttachment, at offset: Int64, context: any MediaUploadContext, operation: String) throws(PlatformError) -> any HTTPBodySource {
        do {
            return try context.open(attachment, at: offset)
        } catch {
            throw local(.noEffect, operation: operation, "the media \(attachment.sha256) cannot be read: \(error) (nothing was sent)")
        }
    }

    /// A create's refusal of the media it names (`PlatformError.mediaRefused`): X's "Your
    /// media IDs are invalid." (400), Bluesky's "Could not find blob" (400). nil otherwise.
    func mediaRefusal(_ response: HTTPResponse, request: HTTPRequest, draft: PostDraft) -> PlatformError? {
        guard !draft.mediaHandles.isEmpty, response.status == 400 else { return nil }
        let text = response.text
        guard text.contains("media IDs are invalid") || text.contains("Could not find blob") else { return nil }
        var error = PlatformError(platform: platform, errorClass: .noEffect,
                                  evidence: evidence(response, request: request, operation: "create", platformError: nil),
                                  message: "\(platform.rawValue) no longer knows the media the post names (expired or collected): nothing was published; it is uploaded again")
        error.mediaRefused = true
        return error
    }

    /// Sends `request` with the attachment as a multipart body (`fields`, then the file under
    /// `fileField`, streamed from the media store) and the time its size allows; a 2xx's JSON,
    /// anything else classified as an upload's failure.
    func uploadMultipart(_ request: HTTPRequest, _ attachment: MediaAttachment, fields: [(String, String)], fileField: String,
                         context: any MediaUploadContext) throws(PlatformError) -> (response: HTTPResponse, json: JSON) {
        let source = try open(attachment, at: 0, context: context, operation: "upload")
        let body = HTTPStreamBody.multipart(fields: fields, fileField: fileField, fileName: attachment.type.uploadFileName,
                                            fileType: attachment.type.mimeType, source: source, length: attachment.bytes,
                                            boundary: Self.boundary())
        var request = request
        request.timeoutMillis = context.timeoutMillis(bytes: attachment.bytes)
        let response = try send(request, operation: "upload", kind: .upload, streaming: body)
        guard response.isSuccess else { throw failure(response, request: request, operation: "upload", kind: .upload) }
        return (response, try json(response, request: request, operation: "upload", kind: .upload))
    }

    /// A multipart boundary that cannot occur by chance in the bytes around it.
    static func boundary() -> String {
        "steadypost-" + String(UInt64.random(in: 0...UInt64.max), radix: 16) + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }
}

extension MediaType {
    /// The name uploads give the file part (platforms want one; only its extension matters).
    var uploadFileName: String { "media.\(rawValue == "jpeg" ? "jpg" : rawValue)" }
}
