import ArgumentParser
import FoundationEssentials
import SteadyControl
import SteadyCore

/// `steadypost reconcile [--account NAME] [--dry-run] [--deep]`: routed to the reconciler
/// worker as `reconciler.run`; prints the pass's report (INTERFACE.md). Exit 1 when the pass
/// (or an account in it) failed.
extension SteadypostCLI {
    struct Reconcile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a reconcile pass now (timeline against store) and print its report.",
            discussion: "Fixes posts that are live but not recorded so (adopts orphans, failed or unknown posts found live), records foreign posts and reports duplicates and thread parts that do not answer the part before them. --dry-run changes nothing and says what it would do.")
        @Option(help: "Only this account (a name from the config).") var account: String?
        @Flag(name: .customLong("dry-run"), help: "Change nothing; say what would be done.") var dryRun = false
        @Flag(help: "Over the deep pass's window (default 7 days) instead of the quick pass's (default 1 day).") var deep = false
        @OptionGroup var connection: Connection

        func validate() throws {
            if let account {
                let valid = !account.isEmpty && account.utf8.count <= 64
                    && account.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
                guard valid else { throw ValidationError("--account: '\(account)' is not an account name (1-64 of a-z, 0-9 and -)") }
            }
        }

        func run() throws {
            let client = try connection.client()
            let body = try encode(ReconcileRequest(account: account, dry_run: dryRun, deep: deep))
            let answer = perform { () throws(ControlClientError) in try client.call(method: "reconciler.run", body: body) }
            let report = try? JSONDecoder().decode(ReconcileReportView.self, from: Data(answer))
            if connection.json {
                writeOut(String(decoding: answer, as: UTF8.self) + "\n")
            } else if let report {
                writeOut(report.text)
            } else {
                fail("the reconciler's report is unreadable: \(String(decoding: answer.prefix(300), as: UTF8.self))", code: 1)
            }
            // A partial pass (a long rate limit cut an account short) is not a failure: 0.
            if report?.ok != true { throw ExitCode(1) }
        }
    }
}

struct ReconcileRequest: Encodable {
    var account: String?
    var dry_run: Bool
    var deep: Bool
}

/// The report as the reconciler sends it (the fields printed here).
struct ReconcileReportView: Decodable {
    struct Fix: Decodable {
        var post_id: String
        var platform_id: String
        var from: String
        var by: String
        var adopted: Bool
        var applied: Bool
        var note: String?
    }

    struct Duplicate: Decodable {
        var platform_ids: [String]
        var post_id: String?
    }

    struct ThreadMismatch: Decodable {
        var post_id: String
        var thread_id: String
        var position: Int
        var platform_id: String
        var reason: String
    }

    struct Account: Decodable {
        var account: String
        var platform: String
        var scanned: Int
        var complete: Bool
        var known: Int
        var changes: Int
        var fixes: [Fix]
        var foreign_new: [String]
        var foreign_known: Int
        var duplicates: [Duplicate]
        var unknown_not_found: [String]
        var unknown_deferred: [String]?
        /// Absent from daemons before threads.
        var thread_mismatches: [ThreadMismatch]?
        var error: String?
        /// `ok`, `partial` or `failed` (absent from daemons before it).
        var status: String?
        var partial: String?
    }

    var id: String
    var pass: String
    var dry_run: Bool?
    var ok: Bool
    /// `ok`, `partial` (some account cut short by a long rate limit: not a failure) or `failed`.
    var status: String?
    var changes: Int?
    var error: String?
    var accounts: [Account]?
    var errors: [String]?

    var text: String {
        let dry = dry_run == true
        var out = "reconcile \(id) (\(pass)\(dry ? ", dry run: nothing changed" : "")): \(!ok ? "FAILED" : status == "partial" ? "partial" : "ok"), \(changes ?? 0) change(s)\n"
        if let error { out += "error: \(error)\n" }
        for a in accounts ?? [] {
            out += "\(a.account) (\(a.platform)): \(a.scanned) post(s) on the timeline\(a.complete ? "" : a.partial != nil ? " (scan incomplete: rate limited)" : " (scan incomplete: page budget reached)"), \(a.known) already recorded\n"
            for f in a.fixes {
                let what = "\(f.post_id) \(f.from) → posted as \(f.platform_id) (\(f.adopted ? "adopted, " : "")by \(f.by))"
                out += "  \(f.applied ? "fixed" : dry ? "would fix" : "not fixed"): \(what)\(f.applied || dry ? "" : ": \(f.note ?? "")")\n"
            }
            if !a.foreign_new.isEmpty { out += "  \(dry ? "would record as foreign" : "foreign (new)"): \(a.foreign_new.joined(separator: ", "))\n" }
            if a.foreign_known > 0 { out += "  foreign (known): \(a.foreign_known)\n" }
            for d in a.duplicates {
                out += "  DUPLICATE: \(d.platform_ids.joined(separator: ", "))\(d.post_id.map { " (ours: \($0))" } ?? "")\n"
            }
            for m in a.thread_mismatches ?? [] {
                out += "  THREAD MISMATCH: \(m.post_id) (part \(m.position) of \(m.thread_id), live as \(m.platform_id)): \(m.reason)\n"
            }
            if !a.unknown_not_found.isEmpty {
                out += "  unknown, not on the timeline (the posting worker's verification decides): \(a.unknown_not_found.joined(separator: ", "))\n"
            }
            if let d = a.unknown_deferred, !d.isEmpty {
                out += "  unknown, live, attempted within unknown_grace (left to the posting worker's verification): \(d.joined(separator: ", "))\n"
            }
            if let p = a.partial { out += "  partial: \(p)\n" }
            if let e = a.error { out += "  error: \(e)\n" }
        }
        return out
    }
}
