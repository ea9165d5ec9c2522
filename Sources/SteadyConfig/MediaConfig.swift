/// `[media]`: the daemon's media store (`STATE_DIR/media`) and how long media stays in it.
public struct MediaConfig: Sendable, Equatable {
    /// Where platforms that fetch media by URL (Instagram, Threads: later issues) reach the
    /// api worker's `/media/` route. Unused by X, Mastodon and Bluesky, which take uploads.
    public var publicBaseURL: String?
    /// The most bytes of one file in memory at a time: copies into the store (and uploads
    /// from it) go in chunks of this size. `SteadyMedia.MediaStore.defaultChunkSize`.
    public var chunkBytes: Int
    /// How long the media of a final post (posted, failed, cancelled) is kept after it became
    /// final; unreferenced media older than that (and than the store's grace) is removed.
    public var retainAfterFinalMs: Int64

    public init(publicBaseURL: String? = nil, chunkBytes: Int = 1 << 20, retainAfterFinalMs: Int64 = 7 * 86_400_000) {
        self.publicBaseURL = publicBaseURL
        self.chunkBytes = chunkBytes
        self.retainAfterFinalMs = retainAfterFinalMs
    }

    static let keys = ["public_base_url", "chunk_bytes", "retain_after_final"]
    static let chunkRange: ClosedRange<UInt64> = (64 << 10)...(5 << 20)
    static let retainRange: ClosedRange<Int64> = 0...(365 * 86_400_000)
}

extension ConfigDecoder {
    mutating func decodeMedia(_ s: Section) -> MediaConfig {
        var m = MediaConfig()
        checkKnown(s, MediaConfig.keys)
        if let v = read(s, "public_base_url", Self.baseURL) { m.publicBaseURL = v }
        if let v = read(s, "chunk_bytes", { Self.byteSize($0, MediaConfig.chunkRange) }) { m.chunkBytes = Int(v) }
        if let v = read(s, "retain_after_final", { Self.duration($0, MediaConfig.retainRange) }) { m.retainAfterFinalMs = v }
        return m
    }

}
