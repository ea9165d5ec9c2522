import SteadyCore
import Testing

/// The test hooks' one list, whether this build has them, and the refusal a build without
/// them gives (`TestHooks`, ARCHITECTURE.md "Test hooks").
@Suite("Test hooks")
struct TestHooksTests {
    /// Every hook the modules read, exactly: a hook dropped from the list would no longer be
    /// refused by a release build; one added must be documented and refused too.
    @Test func theListIsEveryHook() {
        #expect(TestHooks.variables == [
            "STEADYPOST_FAULTS", "STEADYPOST_RECONCILER_FAULT", "STEADYPOST_POSTING_LEASE_MS",
            "STEADYPOST_POSTING_HTTP_TIMEOUT_MS", "STEADYPOST_POSTING_QUOTA_HOUR_MS", "STEADYPOST_POSTING_SETTLE_MS",
            "STEADYPOST_POSTING_BREAKER_OPEN_MS", "STEADYPOST_WORKER_EXECUTABLE", "STEADYPOST_API_EXECUTABLE",
        ])
    }

    /// The tests run debug builds, which have the hooks (Package.swift's debug-only define):
    /// they are read, and nothing is refused.
    @Test func aDebugBuildHasThem() {
        #if DEBUG
        #expect(TestHooks.compiledIn)
        #endif
        guard TestHooks.compiledIn else { return }
        let env = ["STEADYPOST_FAULTS": "crash:after_send", "STEADYPOST_POSTING_LEASE_MS": "10000"]
        #expect(TestHooks.value(.faults, in: env) == "crash:after_send")
        #expect(TestHooks.value(.postingLeaseMillis, in: env) == "10000")
        #expect(TestHooks.value(.reconcilerFault, in: env) == nil)
        #expect(TestHooks.refusal(environment: env) == nil)
        #expect(TestHooks.refusal(environment: env, compiledIn: true) == nil)
    }

    @Test("a build without the hooks refuses each one, by name, saying how to get a build with them",
          arguments: TestHooks.Variable.allCases)
    func refusesEach(variable: TestHooks.Variable) throws {
        let message = try #require(TestHooks.refusal(environment: [variable.rawValue: "1", "PATH": "/usr/bin"], compiledIn: false))
        #expect(message.hasPrefix("refusing to start: \(variable.rawValue) is set, but it is a test hook that this build does not have"))
        #expect(message.contains("a debug build (swift build)"))
        #expect(message.contains("swift build -c release -Xswiftc -DSTEADYPOST_TEST_HOOKS"))
        // The lease has a production form: the config key is named when its hook is refused.
        #expect(message.contains("[workers.posting]") == (variable == .postingLeaseMillis))
    }

    @Test func refusesEveryOneSetAtOnceEvenEmpty() throws {
        let env = ["STEADYPOST_POSTING_SETTLE_MS": "2000", "STEADYPOST_FAULTS": "", "HOME": "/root"]
        #expect(TestHooks.present(in: env) == [.faults, .postingSettleMillis])
        let message = try #require(TestHooks.refusal(environment: env, compiledIn: false))
        #expect(message.hasPrefix(
            "refusing to start: STEADYPOST_FAULTS, STEADYPOST_POSTING_SETTLE_MS are set, but they are test hooks that this build does not have"))
        #expect(message.contains("Unset them"))
    }

    /// The daemon's own variables (and anything else) are not hooks: nothing to refuse.
    @Test func otherVariablesAreNotRefused() {
        let env = ["STEADYPOST_LOG": "journal", "STEADYPOST_LOG_LEVEL": "debug", "STEADYPOST_CHROMIUM": "/usr/bin/chromium",
                   "STEADYPOST_PREVIOUS_EXIT": "crash", "STEADYPOST_PREVIOUS_PID": "7", "STEADYPOST_ROLE": "posting",
                   "STEADYPOST_NO_CGROUPS": "1", "STEADYPOST_FAULT": "x", "steadypost_faults": "x"]
        #expect(TestHooks.refusal(environment: env, compiledIn: false) == nil)
        #expect(TestHooks.refusal(environment: [:], compiledIn: false) == nil)
    }
}
