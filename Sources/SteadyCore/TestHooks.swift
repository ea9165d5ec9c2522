/// The test hooks: environment variables that make the daemon misbehave on purpose (crash
/// points, failing store writes, a failing or stalled reconciler) or shorten its timing (the
/// claim lease, request timeouts, the quota's hour) so that tests run in seconds.
///
/// They exist only in a build with the `STEADYPOST_TEST_HOOKS` compilation condition: every
/// debug build (Package.swift defines it for this module in the debug configuration) and a
/// release build made with `swift build -c release -Xswiftc -DSTEADYPOST_TEST_HOOKS`. Every
/// hook is read through `value(_:in:)`, which in a build without them returns nil without
/// looking, so nothing in the environment can arm a hook there; and such a build refuses to
/// start when one is set (`refusal`), since the supervisor passes its environment to every
/// worker and one `Environment=` line would otherwise be silently ignored.
///
/// Other modules ask `compiledIn` or `value(_:in:)`; they do not test the compilation
/// condition themselves (only this module has it defined in debug builds).
public enum TestHooks {
    /// Every hook variable. A new hook is a new case here, read with `value(_:in:)`.
    public enum Variable: String, CaseIterable, Sendable {
        /// Crash points, abort points and failing store writes in the posting worker (`PostingFaults`).
        case faults = "STEADYPOST_FAULTS"
        /// The reconciler's jobs fail or stall (`ReconcilerSettings`).
        case reconcilerFault = "STEADYPOST_RECONCILER_FAULT"
        /// The posting worker's claim lease, ms; wins over `[workers.posting] lease`.
        case postingLeaseMillis = "STEADYPOST_POSTING_LEASE_MS"
        /// One platform request's total time, ms.
        case postingHTTPTimeoutMillis = "STEADYPOST_POSTING_HTTP_TIMEOUT_MS"
        /// The quota's hour, ms (the day is 24 of them).
        case postingQuotaHourMillis = "STEADYPOST_POSTING_QUOTA_HOUR_MS"
        /// How long after an attempt began a complete timeline scan proves absence, ms.
        case postingSettleMillis = "STEADYPOST_POSTING_SETTLE_MS"
        /// A circuit breaker's first open time, ms.
        case postingBreakerOpenMillis = "STEADYPOST_POSTING_BREAKER_OPEN_MS"
        /// The executable the supervisor starts for the non-api workers (tests of exec-failure
        /// reporting); in production it is the `steadypost-worker` beside `steadypostd`.
        case workerExecutable = "STEADYPOST_WORKER_EXECUTABLE"
        /// The executable the supervisor starts for the api worker.
        case apiExecutable = "STEADYPOST_API_EXECUTABLE"
    }

    /// Whether this build has the hooks (the `STEADYPOST_TEST_HOOKS` compilation condition).
    #if STEADYPOST_TEST_HOOKS
    public static let compiledIn = true
    #else
    public static let compiledIn = false
    #endif

    /// The names of every hook variable, in declaration order.
    public static var variables: [String] { Variable.allCases.map(\.rawValue) }

    /// The hook's value in `environment`; always nil in a build without the hooks.
    public static func value(_ variable: Variable, in environment: [String: String]) -> String? {
        #if STEADYPOST_TEST_HOOKS
        return environment[variable.rawValue]
        #else
        return nil
        #endif
    }

    /// The hook variables present in `environment` (set at all, even to an empty value), in
    /// declaration order.
    public static func present(in environment: [String: String]) -> [Variable] {
        Variable.allCases.filter { environment[$0.rawValue] != nil }
    }

    /// Why a process must not start: nil when `compiledIn`, or when no hook variable is set;
    /// otherwise a message naming every hook variable set (even to an empty value), saying
    /// this build does not have them, and how to get a build that does. The caller prefixes
    /// its own name and exits 1.
    public static func refusal(environment: [String: String], compiledIn: Bool = TestHooks.compiledIn) -> String? {
        guard !compiledIn else { return nil }
        let found = present(in: environment)
        guard !found.isEmpty else { return nil }
        let names = found.map(\.rawValue).joined(separator: ", ")
        let one = found.count == 1
        var text = "refusing to start: \(names) \(one ? "is set, but it is a test hook" : "are set, but they are test hooks")"
            + " that this build does not have (a release build made without -DSTEADYPOST_TEST_HOOKS)."
            + " Unset \(one ? "it" : "them") (check the unit's Environment= lines), or run a build with the test hooks:"
            + " a debug build (swift build) or a release build made with"
            + " swift build -c release -Xswiftc -DSTEADYPOST_TEST_HOOKS."
        if found.contains(.postingLeaseMillis) {
            text += " For another claim lease in production, set lease in [workers.posting] of the config."
        }
        return text
    }
}
