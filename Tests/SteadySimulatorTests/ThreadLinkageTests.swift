import Foundation
import HummingbirdTesting
import Testing

@testable import SteadySimulator

/// A Bluesky strongRef.
typealias StrongRef = (uri: String, cid: String)

/// A createRecord body for a reply: strongRefs of the root and of the parent.
func replyRecord(_ did: String, _ text: String, root: StrongRef, parent: StrongRef, rkey: String? = nil) -> JSON {
    let body = createRecord(did, text, rkey: rkey)
    let reply: JSON = [
        "root": ["uri": .string(root.uri), "cid": .string(root.cid)],
        "parent": ["uri": .string(parent.uri), "cid": .string(parent.cid)],
    ]
    return body.setting("record", (body["record"] ?? [:]).setting("reply", reply))
}

extension TestClientProtocol {
    /// A createRecord that must succeed; the new record's strongRef.
    func blueskyCreate(_ body: JSON, token: String) async throws -> StrongRef {
        let created = try await api(.post, "/xrpc/com.atproto.repo.createRecord", token: token, json: body)
        #expect(created.status == 200, "\(created.body)")
        return (created.json["uri"]?.stringValue ?? "", created.json["cid"]?.stringValue ?? "")
    }
}

extension SimulatorServer {
    /// Marks a stored post deleted (no platform double deletes yet).
    func deletePost(_ id: String) {
        simulator.withStore { store in
            if let index = store.findPost(id) { store.posts[index].deleted = true }
        }
    }
}

/// Expects the ground truth to hold `ids` as one chain: each part replies to the one before,
/// and every reply has the first part as its root.
func expectChain(_ truth: [JSON], _ ids: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    for (n, id) in ids.enumerated() {
        let post = truth.first { $0["id"] == .string(id) }
        let parent: JSON = n == 0 ? .null : .string(ids[n - 1])
        let root: JSON = n == 0 ? .null : .string(ids[0])
        #expect(post?["in_reply_to"] == parent, "part \(n + 1): \(String(describing: post))", sourceLocation: sourceLocation)
        #expect(post?["reply_root"] == root, "part \(n + 1): \(String(describing: post))", sourceLocation: sourceLocation)
    }
}

/// An X or Mastodon create: its path and body, a reply to `parent` when one is given.
func createPost(_ platform: Platform, _ text: String, replyTo parent: String?) -> (path: String, body: JSON) {
    if platform == .x {
        let body: JSON = ["text": .string(text)]
        return ("/2/tweets", parent.map { body.setting("reply", ["in_reply_to_tweet_id": .string($0)]) } ?? body)
    }
    let body: JSON = ["status": .string(text)]
    return ("/api/v1/statuses", parent.map { body.setting("in_reply_to_id", .string($0)) } ?? body)
}

@Suite("Thread linkage", .timeLimit(.minutes(1)))
struct ThreadLinkageTests {
    @Test(
        "X and Mastodon: a 3-post chain records in_reply_to and reply_root; a reply to a missing or deleted post is refused",
        arguments: [
            (Platform.x, 201, 403, "detail", "You attempted to reply to a Tweet that is deleted or not visible to you."),
            (Platform.mastodon, 200, 404, "error", "Record not found"),
        ])
    func chain(platform: Platform, created: Int, refused: Int, field: String, message: String) async throws {
        try await withSimulator { client, server in
            let token = try await client.account(platform, "news")["access_token"]?.stringValue
            var ids: [String] = []
            for n in 0..<3 {
                let (path, body) = createPost(platform, "part \(n + 1)", replyTo: ids.last)
                let reply = try await client.api(.post, path, token: token, json: body)
                #expect(reply.status == created, "\(reply.body)")
                ids.append((reply.json["data"]?["id"] ?? reply.json["id"])?.stringValue ?? "")
            }
            expectChain(try await client.groundTruth("news"), ids)

            server.deletePost(ids[2])
            for target in ["1234567", ids[2]] {
                let (path, body) = createPost(platform, "to \(target)", replyTo: target)
                let reply = try await client.api(.post, path, token: token, json: body)
                #expect(reply.status == refused, "\(reply.body)")
                #expect(reply.json[field] == .string(message))
            }
            #expect(try await client.groundTruth("news").count == 3, "nothing stored on refusal")
        }
    }

    @Test("Bluesky: a 3-post chain records in_reply_to and reply_root; getRecord, getPosts, listRecords give the cid and reply as stored")
    func blueskyChain() async throws {
        try await withSimulator { client, _ in
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            var refs: [StrongRef] = []
            var replies: [JSON] = [.null]
            for n in 0..<3 {
                let rkey = makeTID(offsetMicros: Int64(n))
                let body =
                    refs.isEmpty
                    ? createRecord(did, "part \(n + 1)", rkey: rkey)
                    : replyRecord(did, "part \(n + 1)", root: refs[0], parent: refs[n - 1], rkey: rkey)
                refs.append(try await client.blueskyCreate(body, token: access))
                if n > 0 { replies.append(body["record"]?["reply"] ?? .null) }
            }
            expectChain(try await client.groundTruth("news-b"), refs.map(\.uri))

            for (n, ref) in refs.enumerated() {
                let rkey = ref.uri.split(separator: "/").last.map(String.init) ?? ""
                let record = try await client.api(
                    .get, "/xrpc/com.atproto.repo.getRecord?repo=\(did)&collection=app.bsky.feed.post&rkey=\(rkey)", token: access)
                #expect(record.json["cid"] == .string(ref.cid))
                #expect((record.json["value"]?["reply"] ?? .null) == replies[n])
            }
            let uris = refs.map { "uris=\($0.uri)" }.joined(separator: "&")
            let views = try await client.api(.get, "/xrpc/app.bsky.feed.getPosts?\(uris)", token: access).json["posts"]?.arrayValue ?? []
            #expect(views.map { $0["cid"]?.stringValue ?? "" } == refs.map(\.cid))
            #expect(views.map { $0["record"]?["reply"] ?? .null } == replies)
            let listed = try await client.api(
                .get, "/xrpc/com.atproto.repo.listRecords?repo=\(did)&collection=app.bsky.feed.post", token: access
            ).json["records"]?.arrayValue ?? []
            #expect(listed.map { $0["cid"]?.stringValue ?? "" } == refs.reversed().map(\.cid), "newest first")
            #expect(listed.map { $0["value"]?["reply"] ?? .null } == replies.reversed())
        }
    }

    @Test("Bluesky: a reply with a wrong ref is refused with 400 InvalidRequest naming the ref, and nothing is stored")
    func blueskyRefusals() async throws {
        try await withSimulator { client, server in
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            let a = try await client.blueskyCreate(createRecord(did, "one"), token: access)
            let b = try await client.blueskyCreate(replyRecord(did, "two", root: a, parent: a), token: access)
            let unknown = (uri: "at://\(did)/app.bsky.feed.post/\(makeTID(offsetMicros: 77))", cid: b.cid)
            let prefix = "Invalid app.bsky.feed.post record: Record/reply"

            let cases: [(root: StrongRef, parent: StrongRef, message: String)] = [
                (a, (b.uri, a.cid), "\(prefix)/parent cid mismatch: \(a.cid) is not the cid of \(b.uri)"),
                ((a.uri, b.cid), b, "\(prefix)/root cid mismatch: \(b.cid) is not the cid of \(a.uri)"),
                (b, b, "\(prefix)/root is not the thread's root: the thread of \(b.uri) starts at \(a.uri), not \(b.uri)"),
                (a, unknown, "\(prefix)/parent is an unknown record: \(unknown.uri)"),
                (unknown, b, "\(prefix)/root is an unknown record: \(unknown.uri)"),
            ]
            for (n, item) in cases.enumerated() {
                let rkey = makeTID(offsetMicros: Int64(100 + n))
                let refused = try await client.api(
                    .post, "/xrpc/com.atproto.repo.createRecord", token: access,
                    json: replyRecord(did, "three", root: item.root, parent: item.parent, rkey: rkey))
                #expect(refused.status == 400, "\(refused.body)")
                #expect(refused.json == ["error": "InvalidRequest", "message": .string(item.message)])
                let read = try await client.api(
                    .get, "/xrpc/com.atproto.repo.getRecord?repo=\(did)&collection=app.bsky.feed.post&rkey=\(rkey)", token: access)
                #expect(read.json["error"] == "RecordNotFound", "the refused rkey stays free")
            }

            server.deletePost(b.uri)
            let deleted = try await client.api(
                .post, "/xrpc/com.atproto.repo.createRecord", token: access, json: replyRecord(did, "three", root: a, parent: b))
            #expect(deleted.status == 400)
            #expect(deleted.json["message"] == .string("\(prefix)/parent is a deleted record: \(b.uri)"))
            #expect(try await client.groundTruth("news-b").count == 2, "nothing stored on refusal")
        }
    }

    @Test("Bluesky: a mention's record names its thread's root; replying to it as the adapter reads it is accepted")
    func blueskyMentionThread() async throws {
        try await withSimulator { client, _ in
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            let a = try await client.blueskyCreate(createRecord(did, "one"), token: access)
            let b = try await client.blueskyCreate(replyRecord(did, "two", root: a, parent: a), token: access)

            for (parent, root) in [(b, a), (nil, nil)] as [(StrongRef?, StrongRef?)] {
                var body: JSON = ["account": "news-b", "from": "carol", "text": "answer"]
                if let parent { body = body.setting("in_reply_to", .string(parent.uri)) }
                let mention = try await client.admin(.post, "/_sim/mentions", body)
                let m = (uri: mention["uri"]?.stringValue ?? "", cid: mention["cid"]?.stringValue ?? "")
                let view = try await client.api(.get, "/xrpc/app.bsky.feed.getPosts?uris=\(m.uri)", token: access)
                    .json["posts"]?.arrayValue?.first
                #expect(view?["cid"] == .string(m.cid))
                #expect(view?["record"]?["reply"]?["root"]?["uri"] == root.map { .string($0.uri) })
                #expect(view?["record"]?["reply"]?["root"]?["cid"] == root.map { .string($0.cid) })
                #expect(view?["record"]?["reply"]?["parent"]?["uri"] == parent.map { .string($0.uri) })

                let answer = try await client.blueskyCreate(replyRecord(did, "thanks", root: root ?? m, parent: m), token: access)
                let stored = try await client.groundTruth("news-b").first { $0["uri"] == .string(answer.uri) }
                #expect(stored?["in_reply_to"] == .string(m.uri))
                #expect(stored?["reply_root"] == .string((root ?? m).uri))
            }
        }
    }
}
