import SteadyBrowser
import SteadyCore
import SteadyMetrics
import SteadyPosting
import SteadyReconciler
import SteadyReplies
import SteadyWorker

// `steadypost-worker worker ROLE --config PATH`: the posting, metrics, replies, browser and
// reconciler workers. Its own executable, apart from the supervisor's (`steadypostd`), so
// the supervisor maps none of the workers' code (SQLite, the adapters, CDP): its RSS stays
// under its goal (BENCHMARKS.md P6). The supervisor starts it beside itself; the api worker
// is `steadypost-api`, started the same way.
//
// The posting, metrics, replies and reconciler engines run once accounts are configured (an
// idle role otherwise); the browser pool always (its browsers start on the first lease).
WorkerMain.run(executable: "steadypost-worker", roles: Role.allCases.filter { $0 != .api },
               elsewhere: { _ in "the api worker is the steadypost-api executable (installed beside steadypostd)" }) { role, config, env, logger in
    let hasAccounts = !config.accounts.isEmpty
    switch role {
    case .browser: return makeBrowserRole(config: config, logger: logger)
    case .posting where hasAccounts: return try PostingEngine(config: config, environment: env, logger: logger)
    case .metrics where hasAccounts: return try MetricsEngine(config: config, logger: logger)
    case .replies where hasAccounts: return try RepliesEngine(config: config, logger: logger)
    case .reconciler where hasAccounts: return try ReconcilerRole(config: config, environment: env, logger: logger)
    default: return IdleRole(role: role, config: config)
    }
}
