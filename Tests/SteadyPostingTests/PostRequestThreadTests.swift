import Testing
import SteadyCore
import SteadyPlatforms
import SteadyStore
@testable import SteadyPosting

/// `posting.create`'s `thread` (issue 16): every part checked before anything is stored,
/// errors naming the part; the parts share one thread id, in order.
struct PostRequestThreadTests {
    static func parse(_ text: String, accounts: [String: PostRequest.AccountRules] = PostingDecisionTests.rules) throws(PostRequest.Invalid) -> [NewPost] {
        try PostRequest.parse(Array(text.utf8), now: PostingDecisionTests.now, accounts: accounts).posts
    }

    @Test("a thread becomes its parts in order, one thread id, part 1 due at `at`, the gap on every part")
    func parts() throws {
        let posts = try Self.parse(#"{"account":"news-x","thread":[{"text":"one"},{"text":"two"},{"text":"three"}],"at":"2026-05-01T12:00:00Z","gap":"30s"}"#)
        #expect(posts.map(\.text) == ["one", "two", "three"])
        #expect(posts.map { $0.thread?.position } == [1, 2, 3])
        #expect(Set(posts.compactMap { $0.thread?.id }).count == 1)
        #expect(posts.allSatisfy { $0.thread?.gapMillis == 30_000 && $0.dueAt == 1_777_636_800_000 && $0.inReplyTo == nil })
        let batch = try Self.parse(#"{"account":"news-x","posts":[{"text":"single"},{"thread":[{"text":"a"},{"text":"b"}]},{"thread":[{"text":"c"}]}]}"#)
        #expect(batch.map { $0.thread?.position ?? 0 } == [0, 1, 2, 1])
        #expect(batch[1].thread?.id == batch[2].thread?.id && batch[1].thread?.id != batch[3].thread?.id)
    }

    @Test("bad threads are refused naming the part (or the member), for single requests and batch lines")
    func refusals() {
        let long = String(repeating: "y", count: 281)
        let cases: [(String, String)] = [
            (#"{"account":"news-x","thread":[{"text":"ok"},{"text":""}]}"#, "part 2: empty"),
            (#"{"account":"news-x","thread":[{"text":"ok"},{"text":" \n "}]}"#, "part 2: empty"),
            (#"{"account":"news-x","thread":[{"text":"ok"},{"text":"\#(long)"}]}"#, "part 2: x would refuse it"),
            (#"{"account":"news-x","thread":[{"text":"ok"},{"txt":"typo"}]}"#, "part 2: unknown member \"txt\""),
            (#"{"account":"news-x","thread":[]}"#, "thread: no parts"),
            (#"{"account":"news-x","thread":"one"}"#, "thread: expected an array"),
            (#"{"account":"news-x","thread":[{"text":"a"}],"gap":"soon"}"#, "gap: 'soon' is not a duration"),
            (#"{"account":"news-x","thread":[{"text":"a"}],"reply_to":"1"}"#, "unknown member \"reply_to\""),
            (#"{"account":"news-x","posts":[{"text":"fine","line":1},{"thread":[{"text":"a"},{"text":""}],"line":2}]}"#, "line 2: part 2: empty"),
        ]
        for (body, expected) in cases {
            #expect { _ = try Self.parse(body) } throws: { error in
                "\(error)".contains(expected)
            }
        }
    }

    @Test("a platform without chains refuses threads, naming the part that could not answer")
    func chainless() {
        var rules = PostingDecisionTests.rules
        rules["flat"] = PostRequest.AccountRules(platform: .x, threadChains: false) { (_: PostDraft) throws(PlatformError) in }
        #expect { _ = try Self.parse(#"{"account":"flat","thread":[{"text":"a"},{"text":"b"}]}"#, accounts: rules) } throws: { error in
            "\(error)".contains("does not chain posts") && "\(error)".contains("part 2")
        }
        #expect((try? Self.parse(#"{"account":"flat","text":"a single post is fine"}"#, accounts: rules))?.count == 1)
    }
}
