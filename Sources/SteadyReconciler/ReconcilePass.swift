import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadyPlatforms
import SteadyBackground
import SteadyStore

/// One reconcile pass over some accounts, run on a job thread: replay the outcome journal,
/// reconcile each account (`AccountReconciler`), store the report. A dry run writes nothing
/// (not even the journal's replay or the report) and says what it would do.
struct ReconcilePass: Sendable {
    /// `reconcile-quick`, `reconcile-deep` or `manual`.
    var name: String
    var readers: [ReadingAccount]
    /// nil: every account (what the stored run says).
    var accountFilter: String?
    var windowMs: Int64
    var dryRun: Bool
    /// Who waits for the report: a routed request's correlation id (manual runs).
    var correlation: UInt64?

    struct Result: Sendable {
        var pass: ReconcilePass
        var id: String
        var ok: Bool
        var error: String?
        var changes: Int
        var fixed: Int
        var foreignNew: Int
        var duplicates: Int
        /// Posts live on the platforms that the store does not hold as posted after this pass
        /// (foreign posts in the window, fixes that could not be applied).
        var orphaned: Int
        /// Extra copies in the duplicate findings (a post there twice counts 1).
        var duplicateCopies: Int
        /// The report as `steadypost reconcile --json` prints it.
        var report: [UInt8]
        /// Accounts a long rate limit stopped before the window's start (the pass is
        /// `partial`, not failed), and when the latest of their limits resets.
        var partialAccounts: [String] = []
        var resumeAt: Int64?
        /// Thread parts live answering something other than the part before them (reported, not fixed).
        var threadMismatches = 0

        /// `failed`, `partial` or `ok`.
        var status: String { !ok ? "failed" : partialAccounts.isEmpty ? "ok" : "partial" }
    }

    func run(settings: ReconcilerSettings, store: any ReconcileStore & PostingStore & AccountStore, journal: OutcomeJournal, logger: Logger) -> Result {
        let started = SteadyClock.wallMillis()
        let id = StoreIds.newRunId()
        switch settings.fault(for: name) {
        case .stall?:
            // Test-only (F11): the work never finishes, so the job's heartbeat shows it late.
            logger.warning("fault injection: reconcile pass \(name) stalls")
            while true { _ = sleep(3600) }
        case .fail?:
            logger.warning("fault injection: reconcile pass \(name) fails")
            let error = "injected fault: the \(name) pass fails"
            let report = JSON.obj([("id", JSON(id)), ("pass", JSON(name)), ("ok", .bool(false)), ("error", JSON(error))])
            return Result(pass: self, id: id, ok: false, error: error, changes: 0, fixed: 0, foreignNew: 0, duplicates: 0, orphaned: 0,
                          duplicateCopies: 0, report: report.bytes)
        case nil:
            break
        }
        var errors: [String] = []
        // The journal first, as the posting worker does before its claims: an outcome it
        // holds is the store's truth-to-be, and the timeline match must see it.
        var journalJSON: JSON
        if dryRun {
            journalJSON = .obj([("pending", JSON(journal.read().records.count))])
        } else {
            do {
                let replay = try journal.replay(into: store, now: started)
                journalJSON = .obj([("applied", JSON(replay.applied)), ("skipped", .array(replay.skipped.map(JSON.init)))])
                if replay.applied > 0 { logger.notice("outcome journal replayed: \(replay.applied) applied") }
            } catch {
                errors.append("replaying the outcome journal: \(error)")
                journalJSON = .obj([("error", JSON("\(error)"))])
            }
        }
        let reconciler = AccountReconciler(store: store, settings: settings, logger: logger)
        var reports: [AccountReport] = []
        for reader in readers {
            reports.append(reconciler.run(reader: reader, windowMs: windowMs, dryRun: dryRun, now: SteadyClock.wallMillis()))
        }
        errors += reports.compactMap { r in r.error.map { "\(r.account): \($0)" } }
        let finished = SteadyClock.wallMillis()
        let changes = reports.reduce(0) { $0 + $1.changes }
        let ok = errors.isEmpty
        let partial = reports.filter { $0.status == "partial" }
        let status = !ok ? "failed" : partial.isEmpty ? "ok" : "partial"
        let report = JSON.obj([
            ("id", JSON(id)), ("pass", JSON(name)), ("dry_run", .bool(dryRun)), ("account", accountFilter.map(JSON.init)),
            ("started_at", JSON(Int(started))), ("finished_at", JSON(Int(finished))), ("ok", .bool(ok)), ("status", JSON(status)),
            ("partial_accounts", .array(partial.map { JSON($0.account) })), ("changes", JSON(changes)),
            ("journal", journalJSON), ("accounts", .array(reports.map(\.json))),
            ("errors", .array(errors.map(JSON.init))),
        ])
        if !dryRun {
            do {
                try store.saveReconcileRun(ReconcileRun(id: id, pass: name, account: accountFilter, startedAt: started, finishedAt: finished,
                                                                        ok: ok, changes: changes, report: report.serialized))
            } catch {
                errors.append("storing the report: \(error)")
            }
        }
        return Result(pass: self, id: id, ok: errors.isEmpty, error: errors.isEmpty ? nil : errors.joined(separator: "; "), changes: changes,
                      fixed: reports.reduce(0) { $0 + $1.fixes.filter(\.applied).count },
                      foreignNew: dryRun ? 0 : reports.reduce(0) { $0 + $1.foreignNew.count },
                      duplicates: reports.reduce(0) { $0 + $1.duplicates.count },
                      orphaned: reports.reduce(0) { $0 + $1.foreignNew.count + $1.foreignKnown + $1.fixes.filter { !$0.applied }.count },
                      duplicateCopies: reports.reduce(0) { $0 + $1.duplicates.reduce(0) { $0 + $1.platformIds.count - 1 } }, report: report.bytes,
                      partialAccounts: partial.map(\.account), resumeAt: partial.compactMap(\.resumeAt).max(),
                      threadMismatches: reports.reduce(0) { $0 + $1.threadMismatches.count })
    }
}
