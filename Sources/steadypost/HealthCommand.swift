import ArgumentParser
import FoundationEssentials
import Glibc
import SteadyControl
import SteadyCore

/// `steadypost health`: routed to the api worker (`api.health`), which reads the store and
/// the supervisor's status. Exit 0 healthy, 1 degraded, 2 unhealthy, 3 when the figures
/// cannot be had (daemon unreachable, or its api worker not running).
extension SteadypostCLI {
    struct Health: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The health figures; exit 0 healthy, 1 degraded, 2 unhealthy, 3 when they cannot be had.",
            discussion: "Thresholds are the config's [health] keys.")
        @OptionGroup var connection: Connection

        func run() throws {
            let client = try connection.client()
            let answer: [UInt8]
            do { answer = try client.call(method: "api.health", body: Array("{}".utf8)) } catch {
                // Exit 1 would read as "degraded": without figures the answer is "cannot tell".
                fail(error.description, code: 3)
            }
            let report: HealthAnswer
            do { report = try JSONDecoder().decode(HealthAnswer.self, from: Data(answer)) } catch {
                fail("the api worker's health answer is not readable: \(error)", code: 3)
            }
            if connection.json {
                writeOut(String(decoding: answer, as: UTF8.self) + "\n")
            } else {
                writeOut(report.rendered)
            }
            Glibc.exit(Int32(clamping: report.exit_code))
        }
    }
}

/// The api worker's `/health` body (SteadyAPI's HealthReport.json).
struct HealthAnswer: Decodable {
    var status: String
    var exit_code: Int
    var checked_at: String
    var window_ms: Int64
    var figures: [String: Double?]
    var late_job_names: [String]
    var parked_worker_names: [String]
    var reasons: [String]
    var notes: [String]

    static let order = [
        "success_rate", "avg_post_time_ms", "stuck_posts", "orphaned_posts", "duplicate_rate", "verification_rate",
        "unknown_posts", "open_breakers", "paused_accounts", "late_jobs", "parked_workers",
    ]

    var rendered: String {
        var out = "health: \(status) (window \(window_ms / 3_600_000)h, at \(checked_at))\n"
        for name in Self.order {
            var text = "n/a"
            if let value = figures[name] ?? nil {
                if name.hasSuffix("_rate") {
                    let tenths = Int64(saturating: (value * 1000).rounded())
                    text = "\(tenths / 10).\(tenths % 10)%"
                } else if name.hasSuffix("_ms") {
                    text = "\(Int64(saturating: value) / 1000)s"
                } else {
                    text = "\(Int64(saturating: value))"
                }
            }
            out += "  " + name + String(repeating: " ", count: max(1, 19 - name.count)) + text + "\n"
        }
        if !late_job_names.isEmpty { out += "  late jobs: \(late_job_names.joined(separator: ", "))\n" }
        if !parked_worker_names.isEmpty { out += "  parked workers: \(parked_worker_names.joined(separator: ", "))\n" }
        for r in reasons { out += "  ! \(r)\n" }
        for n in notes { out += "  (\(n))\n" }
        return out
    }
}
