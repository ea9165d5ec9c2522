import Glibc
import SteadyCore
import SteadySystem

/// Signed links to stored media, for platforms that fetch media by URL themselves (Instagram,
/// Threads): `/media/EXPIRES/TAG/MAC/SHA256.EXT` under `[media] public_base_url`, served by the
/// api worker without a token. The MAC (HMAC-SHA256 with a key only the daemon's processes
/// read, `STATE_DIR/media-link.key`, truncated to 128 bits) covers the hash, the expiry
/// (Unix seconds) and the tag (the attempt that hands the link out), so a link is
/// unguessable, expires, and names one item for one attempt; nothing else of the store is
/// reachable through it.
public struct MediaLinks: Sendable {
    let key: [UInt8]

    public static let keyFile = "media-link.key"

    public init(key: [UInt8]) {
        self.key = key
    }

    /// The key in `stateDir`, created (32 random bytes, mode 0600) by the first process that
    /// needs it; every later one reads the same.
    public static func open(stateDir: String) throws(MediaError) -> MediaLinks {
        let path = stateDir + "/" + keyFile
        for _ in 0..<2 {
            if let text = Files.read(path, limit: 256) {
                let hex = text.reversed().drop { $0 == "\n" }.reversed()
                guard let key = Self.bytes(hex: Substring(String(hex))), key.count == 32 else {
                    throw MediaError(file: path, .refused("the media link key is not 64 hex digits; remove it to make a new one (links handed out so far stop working)"))
                }
                return MediaLinks(key: key)
            }
            var rng = SystemRandomNumberGenerator()
            let fresh = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            do throws(SystemError) {
                _ = try Files.createOnce(path, SHA256.hexString(fresh) + "\n", mode: 0o600)
            } catch {
                throw MediaError(file: path, .system(error))
            }
        }
        throw MediaError(file: path, .refused("the media link key was created but cannot be read"))
    }

    /// The path (from `/media/` on) of a link to `item` valid until `expiresAt` (Unix seconds).
    public func path(for item: MediaItem, expiresAt: Int64, tag: String) -> String {
        let safeTag = Self.isTag(tag) ? tag : String(SHA256.hex(tag.utf8).prefix(32))
        return "/media/\(expiresAt)/\(safeTag)/\(mac(item.sha256, expiresAt, safeTag))/\(item.sha256).\(item.type.rawValue)"
    }

    /// The whole URL under `baseURL` (`[media] public_base_url`).
    public func url(base baseURL: String, for item: MediaItem, expiresAt: Int64, tag: String) -> String {
        String(baseURL.reversed().drop { $0 == "/" }.reversed()) + path(for: item, expiresAt: expiresAt, tag: tag)
    }

    /// The hash a link's parts name, when the MAC is right and the link has not expired
    /// (`nowSeconds`); nil for anything else, whatever is wrong with it (no oracle).
    public func verify(expires: String, tag: String, mac given: String, file: String, nowSeconds: Int64) -> String? {
        guard let expiresAt = Int64(expires), expiresAt >= nowSeconds, Self.isTag(tag),
              let dot = file.firstIndex(of: "."), case let sha = String(file[..<dot]), MediaStore.isHash(sha) else { return nil }
        guard HMAC.constantTimeEqual(Array(mac(sha, expiresAt, tag).utf8), Array(given.utf8)) else { return nil }
        return sha
    }

    func mac(_ sha256: String, _ expiresAt: Int64, _ tag: String) -> String {
        String(SHA256.hexString(HMAC.sha256(key: key, message: Array("v1|\(sha256)|\(expiresAt)|\(tag)".utf8))).prefix(32))
    }

    /// 1 to 64 of `A-Z a-z 0-9 _ -`.
    static func isTag(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F || $0 == 0x2D }
    }

    static func bytes(hex: Substring) -> [UInt8]? {
        guard hex.utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let hi = iterator.next(), let lo = iterator.next() {
            guard let h = nibble(hi), let l = nibble(lo) else { return nil }
            out.append(h << 4 | l)
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}
