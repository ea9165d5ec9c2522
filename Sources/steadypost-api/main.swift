import SteadyAPI
import SteadyCore
import SteadyWorker

// `steadypost-api worker api --config PATH`: the api worker, a separate executable so that
// Hummingbird and NIO are mapped by this process only, not by the supervisor and the other
// workers (docs/design.md, "The api worker"). The supervisor starts it as it starts
// `steadypost-worker worker ROLE`.

WorkerMain.run(executable: "steadypost-api", roles: [.api],
               elsewhere: { "the \($0.rawValue) worker is the steadypost-worker executable (installed beside steadypostd)" }) { _, config, _, logger in
    try APIRole(config: config, logger: logger)
}
