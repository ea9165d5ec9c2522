import Testing
import SteadyConfig
import SteadyCore
import SteadyPlatforms
@testable import SteadyReplies

@Suite("reply rules and the template generator", .timeLimit(.minutes(1)))
struct ReplyRulesTests {
    static let now: Int64 = 10_000_000
    static let me = ReplyRules.Me(platform: .mastodon, userId: "42", handle: "news")
    static let meX = ReplyRules.Me(platform: .x, userId: "42", handle: "news_x")

    static func mention(_ text: String, author: String = "alice", authorId: String = "7", age: Int64 = 1000) -> Mention {
        Mention(id: "m1", postId: "p1", authorId: authorId, authorHandle: author, text: text, createdAtMs: now - age)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var rules: ReplyRules
        var me: ReplyRules.Me
        var mention: Mention
        var answer: Bool
        var reasonContains: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "plain mention is answered", rules: ReplyRules(), me: me, mention: mention("@news hi"), answer: true),
        Case(name: "own post is not", rules: ReplyRules(), me: me, mention: mention("@news hi", author: "news", authorId: "42"),
             answer: false, reasonContains: "this account"),
        Case(name: "ignored author (with @, any case)", rules: ReplyRules(ignoreAccounts: ["@Spam_Bot"]), me: me,
             mention: mention("@news buy", author: "spam_bot"), answer: false, reasonContains: "ignore_accounts"),
        Case(name: "keyword present (case-insensitive)", rules: ReplyRules(keywords: ["Help"]), me: me, mention: mention("@news HELP please"), answer: true),
        Case(name: "keyword absent", rules: ReplyRules(keywords: ["help"]), me: me, mention: mention("@news nice post"),
             answer: false, reasonContains: "keywords"),
        Case(name: "too old", rules: ReplyRules(maxAgeMillis: 500), me: me, mention: mention("@news hi", age: 501),
             answer: false, reasonContains: "max_age"),
        Case(name: "X: the author named the account", rules: ReplyRules(), me: meX, mention: mention("hey @News_X, question"), answer: true),
        Case(name: "X: a reply that does not name the account", rules: ReplyRules(), me: meX, mention: mention("I agree with this"),
             answer: false, reasonContains: "X reply rule"),
        Case(name: "X: a longer handle is not a mention", rules: ReplyRules(), me: meX, mention: mention("@news_xyz hello"),
             answer: false, reasonContains: "X reply rule"),
        Case(name: "Mastodon has no such rule", rules: ReplyRules(), me: me, mention: mention("I agree with this"), answer: true),
    ]

    @Test("decisions", arguments: cases)
    func decisions(_ c: Case) {
        let decision = c.rules.decide(c.mention, me: c.me, now: Self.now)
        if c.answer {
            #expect(decision == .answer)
        } else {
            guard case .ignore(let reason) = decision else { Issue.record("answered, expected ignored"); return }
            #expect(reason.contains(c.reasonContains ?? ""), "\(reason)")
        }
    }

    @Test("the template fills every variable from the mention")
    func template() throws {
        let g = TemplateGenerator(template: "  @{author} thanks from {handle} ({account} on {platform}): \"{text}\" {unknown} ")
        let text = try g.reply(to: ReplyContext(account: "news-m", platform: .mastodon, handle: "news", authorHandle: "alice", text: "hi"))
        #expect(text == "@alice thanks from news (news-m on mastodon): \"hi\" {unknown}")
        let anonymous = try TemplateGenerator(template: "@{author} ok").reply(to: ReplyContext(account: "a", platform: .x, handle: nil, authorHandle: nil, text: ""))
        #expect(anonymous == "@there ok")
        #expect(throws: GeneratorError.self) { try TemplateGenerator(template: "{text}").reply(to: ReplyContext(account: "a", platform: .x, handle: nil, authorHandle: nil, text: "  ")) }
    }

    @Test("the config refuses unknown template variables and names the variables")
    func templateValidation() {
        #expect(RepliesConfig.unknownVariables(in: "@{author} {text} {nope} {handle}") == ["nope"])
        let toml = """
        [[accounts]]
        name = "a"
        platform = "mastodon"
        base_url = "http://127.0.0.1:1"
        credentials = "a.json"

        [workers.replies]
        template = "hi {who}"
        generator = "openai"
        accounts = ["b"]
        """
        do {
            _ = try Config.parse(toml, path: "/x/steadypost.toml")
            Issue.record("accepted")
        } catch {
            let text = error.diagnostics.map(\.description).joined(separator: "\n")
            #expect(text.contains("workers.replies.template: unknown variable {who}"), "\(text)")
            #expect(text.contains("workers.replies.accounts: unknown account \"b\""), "\(text)")
            #expect(text.contains("workers.replies.openai_model: required when generator = \"openai\""), "\(text)")
        }
    }
}
