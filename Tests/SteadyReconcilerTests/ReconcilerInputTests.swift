import Testing
import SteadyConfig
@testable import SteadyReconciler

/// Bad input gets a clear error naming what is wrong: the routed `run` body, the
/// `[workers.reconciler]` keys, the fault knob.
@Suite("reconciler input", .timeLimit(.minutes(1)))
struct ReconcilerInputTests {
    static let accounts = ["news-x", "news-bsky"]

    @Test("run requests: empty, an account, flags")
    func valid() throws {
        #expect(try RunRequest.parse([], accounts: Self.accounts).get() == RunRequest())
        let r = try RunRequest.parse(Array(#"{"account":"news-x","dry_run":true,"deep":true}"#.utf8), accounts: Self.accounts).get()
        #expect(r == RunRequest(account: "news-x", dryRun: true, deep: true))
    }

    @Test("run requests refused, each with its reason", arguments: [
        (#"{"account":"nope"}"#, "no account 'nope' in the config (accounts: news-x, news-bsky)"),
        (#"{"account":3}"#, "account: expected a string"),
        (#"{"dry_run":"yes"}"#, "dry_run: expected true or false"),
        (#"{"acount":"news-x"}"#, "unknown field 'acount' (expected: account, dry_run, deep)"),
        (#"[1]"#, "the request must be a JSON object"),
    ])
    func invalid(body: String, message: String) {
        guard case .failure(let e) = RunRequest.parse(Array(body.utf8), accounts: Self.accounts) else {
            Issue.record("accepted \(body)")
            return
        }
        #expect(e.message == message)
    }

    @Test("a body that is not JSON says so")
    func notJSON() {
        guard case .failure(let e) = RunRequest.parse(Array("{".utf8), accounts: Self.accounts) else {
            Issue.record("accepted")
            return
        }
        #expect(e.message.hasPrefix("the request is not JSON"))
    }

    @Test("[workers.reconciler] keys: defaults, values, and PATH:LINE: KEY errors")
    func config() throws {
        let defaults = try Config.parse("", path: "/etc/s.toml")
        #expect(defaults.reconciler == ReconcilerConfig())
        let c = try Config.parse("[workers.reconciler]\nquick_interval = \"2s\"\nquick_window = \"10m\"\ndeep_interval = \"5s\"\ndeep_window = \"168h\"\nmax_pages = 3\nmatch_slack = \"30s\"\n",
                                 path: "/etc/s.toml")
        #expect(c.reconciler == ReconcilerConfig(quickIntervalMs: 2_000, quickWindowMs: 600_000, deepIntervalMs: 5_000, deepWindowMs: 604_800_000,
                                                 maxPages: 3, matchSlackMs: 30_000))
        do {
            _ = try Config.parse("[workers.reconciler]\nquick_interval = \"1ms\"\nmax_pages = 0\n\n[workers.posting]\nquick_window = \"1h\"\n", path: "/etc/s.toml")
            Issue.record("accepted bad values")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.count == 3, "\(lines)")
            #expect(lines[0].hasPrefix("/etc/s.toml:2: workers.reconciler.quick_interval: must be between 1s and"), "\(lines)")
            #expect(lines[1].hasPrefix("/etc/s.toml:3: workers.reconciler.max_pages: must be between 1 and 1000, got 0"), "\(lines)")
            #expect(lines[2].hasPrefix("/etc/s.toml:6: workers.posting.quick_window: unknown key"), "reconciler keys belong to the reconciler: \(lines)")
        }
    }

    @Test("the fault knob: kind and optional job")
    func faultKnob() {
        let all = ReconcilerSettings(config: ReconcilerConfig(), environment: ["STEADYPOST_RECONCILER_FAULT": "stall"])
        #expect(all.fault(for: "reconcile-quick") == .stall && all.fault(for: "reconcile-deep") == .stall)
        let one = ReconcilerSettings(config: ReconcilerConfig(), environment: ["STEADYPOST_RECONCILER_FAULT": "fail:reconcile-quick"])
        #expect(one.fault(for: "reconcile-quick") == .fail && one.fault(for: "reconcile-deep") == nil)
        #expect(ReconcilerSettings(config: ReconcilerConfig()).fault(for: "reconcile-quick") == nil)
    }
}
