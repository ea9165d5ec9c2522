import SteadyCore

/// One attachment as the rules see it: the name messages use (the operator's path), what its
/// content is, its size and its alt text.
public struct MediaCandidate: Sendable, Equatable {
    public var name: String
    public var identity: MediaIdentity
    public var bytes: Int64
    public var alt: String?

    public init(name: String, identity: MediaIdentity, bytes: Int64, alt: String? = nil) {
        self.name = name
        self.identity = identity
        self.bytes = bytes
        self.alt = alt
    }

    public init(name: String, type: MediaType, bytes: Int64, alt: String? = nil) {
        self.init(name: name, identity: .media(type), bytes: bytes, alt: alt)
    }
}

/// Why a set of attachments cannot go in one post: the file and the rule, in one line
/// (`photo5.png: X takes at most 4 images a post`).
public struct MediaRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var rule: String

    public var description: String { "\(file): \(rule)" }
}

/// What one platform takes in one post: which kinds, how large each, how many, which kinds
/// must be alone, how long alt text may be. A plain value on `PlatformDefinition.mediaRules`;
/// `check` is pure and sends nothing.
public struct MediaRules: Sendable, Equatable {
    /// How messages name the platform ("X").
    public var platformName: String
    /// Largest size per kind; a kind without an entry is not taken at all.
    public var maxBytes: [MediaType.Kind: Int64]
    /// At most this many attachments in one post.
    public var maxCount: Int
    /// Kinds that must be the post's only attachment (X: a GIF or a video).
    public var alone: Set<MediaType.Kind>
    /// Longest alt text in characters (Unicode scalars), when the platform sets one.
    public var maxAltLength: Int?

    public init(platformName: String, maxBytes: [MediaType.Kind: Int64], maxCount: Int, alone: Set<MediaType.Kind> = [],
                maxAltLength: Int? = nil) {
        self.platformName = platformName
        self.maxBytes = maxBytes
        self.maxCount = maxCount
        self.alone = alone
        self.maxAltLength = maxAltLength
    }

    /// A platform that takes no attachments.
    public static func none(_ platformName: String) -> MediaRules {
        MediaRules(platformName: platformName, maxBytes: [:], maxCount: 0)
    }

    /// The first reason `media` (in post order) cannot be one post here, or nil when it can.
    public func check(_ media: [MediaCandidate]) -> MediaRefusal? {
        for (index, item) in media.enumerated() {
            if let refusal = checkOne(item) { return refusal }
            let kind = item.identity.type!.kind
            if index >= maxCount {
                let noun = Set(media.compactMap { $0.identity.type?.kind }) == [.image] ? "images" : "attachments"
                return MediaRefusal(file: item.name, rule: maxCount == 0 ? "\(platformName) takes no media"
                                        : "\(platformName) takes at most \(maxCount) \(noun) a post")
            }
            if media.count > 1 && alone.contains(kind) {
                return MediaRefusal(file: item.name, rule: "\(platformName) takes \(Self.article(kind)) alone, with no other media in the post")
            }
        }
        return nil
    }

    private func checkOne(_ item: MediaCandidate) -> MediaRefusal? {
        guard case .media(let type) = item.identity else {
            if case .refused(let why) = item.identity { return MediaRefusal(file: item.name, rule: "not an image or video (\(why))") }
            return nil
        }
        guard let limit = maxBytes[type.kind] else {
            return MediaRefusal(file: item.name, rule: "\(platformName) takes no \(Self.plural(type.kind)) (this one is \(type.rawValue.uppercased()))")
        }
        if item.bytes > limit {
            return MediaRefusal(file: item.name, rule: "\(platformName) \(Self.plural(type.kind)) are at most \(Self.grouped(limit)) bytes (this one is \(Self.grouped(item.bytes)))")
        }
        if let maxAltLength, let alt = item.alt, alt.unicodeScalars.count > maxAltLength {
            return MediaRefusal(file: item.name, rule: "\(platformName) alt text is at most \(Self.grouped(Int64(maxAltLength))) characters (this one has \(Self.grouped(Int64(alt.unicodeScalars.count))))")
        }
        return nil
    }

    static func plural(_ kind: MediaType.Kind) -> String {
        switch kind {
        case .image: "images"
        case .gif: "GIFs"
        case .video: "videos"
        }
    }

    static func article(_ kind: MediaType.Kind) -> String {
        switch kind {
        case .image: "an image"
        case .gif: "a GIF"
        case .video: "a video"
        }
    }

    /// 8388608 → "8,388,608".
    static func grouped(_ n: Int64) -> String {
        var digits = Array(String(n.magnitude))
        var out: [Character] = []
        while digits.count > 3 {
            out.insert(contentsOf: [","] + digits.suffix(3), at: 0)
            digits.removeLast(3)
        }
        return (n < 0 ? "-" : "") + String(digits + out)
    }
}
