import FoundationEssentials
import Glibc
import SteadyControl
import SteadyCore
import SteadySystem

/// The chaos run's attachments: small PNG and JPEG images (the magic bytes, then bytes of
/// their own, so every image has its own SHA-256), written to files and put into the daemon's
/// media store as the CLI does it (`posting.media_put` with the open files), then named by
/// SHA-256 in the posts.
enum ChaosMedia {
    struct Image {
        var bytes: [UInt8]
        var alt: String
        var sha256: String { SHA256.hex(bytes) }
    }

    /// `count` images of post `post`: a PNG first, then a JPEG, 1–3 KB each.
    static func images(post: Int, count: Int, seed: UInt64) -> [Image] {
        var rng = SplitMix64(seed: seed &* 1_000_003 &+ UInt64(post))
        return (0..<count).map { k in
            let magic: [UInt8] = k % 2 == 0 ? [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] : [0xFF, 0xD8, 0xFF, 0xE0]
            let size = 1_000 + Int(rng.next() % 2_000)
            let body = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            return Image(bytes: magic + body, alt: "chaos post \(post) image \(k + 1)")
        }
    }

    /// Writes the images to `dir` and copies them into the media store, up to
    /// `DescriptorPassing.maxPerFrame` open files a request; dies on any refusal.
    static func put(_ images: [Image], dir: String, socket: String) {
        do { try Files.makeDirectories(dir, mode: 0o700) } catch { die("chaos: \(error)") }
        let client = ControlClient(socketPath: socket, timeoutMillis: 60_000)
        struct Answer: Decodable { struct Item: Decodable { var sha256: String }; var media: [Item] }
        for start in stride(from: 0, to: images.count, by: DescriptorPassing.maxPerFrame) {
            let group = Array(images[start..<min(images.count, start + DescriptorPassing.maxPerFrame)])
            var names: [String] = []
            var descriptors: [Descriptor] = []
            defer { for d in descriptors { d.close() } }
            do {
                for image in group {
                    let path = dir + "/" + image.sha256
                    let file = try Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
                    try image.bytes.withUnsafeBytes { try file.writeAll($0) }
                    file.close()
                    descriptors.append(try Descriptor.open(path, O_RDONLY))
                    names.append(image.sha256)
                }
                let body = "{\"names\":[" + names.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
                let answer = try client.call(method: "posting.media_put", body: Array(body.utf8), descriptors: descriptors)
                let stored = try JSONDecoder().decode(Answer.self, from: Data(answer)).media.map(\.sha256)
                guard stored == names else { die("chaos: media_put stored \(stored) for \(names)") }
            } catch { die("chaos: posting.media_put: \(error)") }
        }
    }

    /// A post's `"media"` member: `[{"sha256", "alt"}]`, in the post's order.
    static func reference(_ images: [Image]) -> String {
        "[" + images.map { "{\"sha256\":\"\($0.sha256)\",\"alt\":\"\($0.alt)\"}" }.joined(separator: ",") + "]"
    }
}
