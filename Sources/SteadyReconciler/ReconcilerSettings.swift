import SteadyConfig
import SteadyCore
import SteadyHTTP

/// The reconciler's schedule and limits, from `[workers.reconciler]`, plus one test hook
/// (`TestHooks`: read once at start, in a build with the hooks only):
///
/// | variable | what |
/// |---|---|
/// | `STEADYPOST_RECONCILER_FAULT` | `fail` or `stall`, optionally `:JOB` (`reconcile-quick`, `reconcile-deep`): every run of that job (of every job without `:JOB`) fails with an injected error, or never finishes (its thread blocks), so the job turns late (F11) |
public struct ReconcilerSettings: Sendable, Equatable {
    public enum Fault: String, Sendable, Equatable {
        case fail
        case stall
    }

    /// Intervals, windows, page budget, match slack.
    public var config: ReconcilerConfig
    public var httpOptions = HTTPClientOptions(connectTimeoutMillis: 5_000, totalTimeoutMillis: 30_000)
    public var fault: Fault?
    /// The job the fault applies to; nil: every job.
    public var faultJob: String?

    public init(config: ReconcilerConfig, environment: [String: String] = [:]) {
        self.config = config
        if let text = TestHooks.value(.reconcilerFault, in: environment) {
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            fault = parts.first.flatMap(Fault.init(rawValue:))
            faultJob = parts.count > 1 ? parts[1] : nil
        }
    }

    /// The fault for a run of `job`, if one is injected.
    public func fault(for job: String) -> Fault? {
        guard let fault, faultJob == nil || faultJob == job else { return nil }
        return fault
    }
}
