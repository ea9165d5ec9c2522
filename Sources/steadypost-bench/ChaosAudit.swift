import FoundationEssentials
import SteadyCore
import SteadyStore

/// The chaos run's verdict: the simulator's ground truth (every post ever created) against
/// the store, per scheduled text (each is unique, thread parts included), then each thread's
/// chain.
struct ChaosAudit {
    var posted = 0
    var failed = 0
    /// Texts on the simulator more than once.
    var duplicates = 0
    /// Scheduled texts that are neither on the simulator nor failed with a reason, or that the
    /// store no longer has.
    var lost = 0
    /// Posts not in a final state when the run ended.
    var stuck = 0
    /// `posted` with another platform id than the simulator's, posted without being on the
    /// simulator, on the simulator but not `posted` in the store, or posts on our accounts that
    /// nothing scheduled.
    var mismatches = 0
    /// Windows of the quota's length in which an account got more creates than its quota.
    var quotaOverruns = 0
    /// Posts live on the simulator whose media (SHA-256s, in order) are not exactly the ones
    /// scheduled with them: missing, extra, reordered or other bytes (none scheduled: none).
    var mediaMismatches = 0
    /// Thread parts scheduled (all threads), and threads whose every part is live exactly once.
    var threadParts = 0
    var threadsLive = 0
    /// Links of a chain that are wrong on the simulator or in the store: a live part k > 1
    /// that does not answer the one live copy of part k-1, was created before it, or is live
    /// while part k-1 is not; a live part 1 that answers anything; a stored part with another
    /// thread id or position than scheduled. (Duplicates and lost parts count above, as posts.)
    var chainErrors = 0
    var details: [String] = []

    var clean: Bool { failed + duplicates + lost + stuck + mismatches + quotaOverruns + mediaMismatches + chainErrors == 0 }

    struct SimPosts: Decodable {
        struct Item: Decodable {
            var id: String
            var account: String
            var text: String
            var created_at_ms: Int64
            /// The parent's platform id, for a reply (a thread's part k > 1).
            var in_reply_to: String?
            /// Bluesky's record key (what the request log names a create by).
            var rkey: String?
            var deleted: Bool?
            struct Media: Decodable { var sha256: String }
            var media: [Media]?
        }
        var posts: [Item]
    }

    /// `media`: the SHA-256s scheduled with each text that has media, in order; `threads`: each
    /// thread's part texts, in order (every one of them also in `texts`).
    init(texts: [String: Int64], media: [String: [String]], threads: [[String]], sim: BenchSim, storePath: String, accounts: [String],
         quotaWindowMillis: Int64, quotaPerWindow: Int) {
        guard let body = sim.admin(.get, "/_sim/posts"),
              let truth = try? JSONDecoder().decode(SimPosts.self, from: Data(body)) else {
            die("chaos: cannot read the simulator's ground truth")
        }
        let ours = Set(accounts)
        var onSim: [String: [SimPosts.Item]] = [:]
        // Where each post stands in the simulator's list (creation order): "created after"
        // without trusting two equal millisecond stamps.
        var order: [String: Int] = [:]
        for (i, p) in truth.posts.enumerated() where ours.contains(p.account) && p.deleted != true {
            onSim[p.text, default: []].append(p)
            order[p.id] = i
        }
        let stored: [Post]
        do { stored = try Stores.open(path: storePath).posts(limit: 10_000_000) } catch { die("chaos: cannot read the store: \(error)") }
        var byText: [String: Post] = [:]
        for p in stored { byText[p.text] = p }

        for (text, _) in texts {
            let live = onSim[text] ?? []
            if live.count > 1 {
                duplicates += 1
                details.append("duplicate: \"\(text)\" ×\(live.count): " + live.map(\.id).joined(separator: ", "))
            }
            let expected = media[text] ?? []
            for item in live where (item.media ?? []).map(\.sha256) != expected {
                mediaMismatches += 1
                details.append("media: \(item.id) \"\(text)\" carries \((item.media ?? []).map { String($0.sha256.prefix(12)) }), scheduled \(expected.map { String($0.prefix(12)) })")
            }
            guard let post = byText[text] else {
                lost += 1
                details.append("lost: \"\(text)\" is not in the store")
                continue
            }
            switch post.state {
            case .posted:
                posted += 1
                if live.isEmpty {
                    mismatches += 1
                    details.append("mismatch: \(post.id) posted as \(post.platformId ?? "-") but not on the simulator")
                } else if !live.contains(where: { $0.id == post.platformId }) {
                    mismatches += 1
                    details.append("mismatch: \(post.id) records \(post.platformId ?? "-"), the simulator has \(live.map(\.id))")
                }
            case .failed:
                failed += 1
                details.append("failed: \(post.id) \(post.lastErrorClass ?? ""): \(post.lastError ?? "")")
                if !live.isEmpty {
                    mismatches += 1
                    details.append("mismatch: \(post.id) failed but live as \(live.map(\.id))")
                }
            case .cancelled, .parked:
                if !live.isEmpty {
                    mismatches += 1
                    details.append("mismatch: \(post.id) \(post.state.rawValue) but live as \(live.map(\.id))")
                } else if post.state == .parked {
                    lost += 1
                    details.append("lost: \(post.id) parked: \(post.lastError ?? "")")
                }
            default:
                stuck += 1
                details.append("stuck: \(post.id) still \(post.state.rawValue) (\(post.lastError ?? "no error"))")
            }
        }
        for parts in threads {
            threadParts += parts.count
            let errors = chainErrors(parts, onSim: onSim, order: order, byText: byText)
            chainErrors += errors.count
            details += errors
            if errors.isEmpty && parts.allSatisfy({ onSim[$0]?.count == 1 }) { threadsLive += 1 }
        }
        for (text, items) in onSim where texts[text] == nil {
            mismatches += items.count
            details.append("mismatch: on the simulator but never scheduled: \"\(text)\"")
        }
        // Quotas count attempts from their start; a create reaches the simulator a little
        // later, so windows of the quota's length less 2 s are judged (sliding, per account).
        let window = quotaWindowMillis - 2000
        var creates: [String: [Int64]] = [:]
        for p in truth.posts where ours.contains(p.account) { creates[p.account, default: []].append(p.created_at_ms) }
        for (account, times) in creates {
            let sorted = times.sorted()
            var lo = 0
            var worst = 0
            for hi in sorted.indices {
                while sorted[hi] - sorted[lo] >= window { lo += 1 }
                worst = max(worst, hi - lo + 1)
            }
            if worst > quotaPerWindow {
                quotaOverruns += 1
                details.append("quota: \(account) had \(worst) creates within \(window) ms (quota \(quotaPerWindow))")
            }
        }
    }

    /// The chain of one thread (its part texts in order): what is wrong with it, a line each.
    func chainErrors(_ parts: [String], onSim: [String: [SimPosts.Item]], order: [String: Int], byText: [String: Post]) -> [String] {
        var errors: [String] = []
        let threadIds = Set(parts.compactMap { byText[$0]?.threadId })
        if threadIds.count > 1 { errors.append("chain: the parts of \"\(parts[0])\" are stored under \(threadIds.count) thread ids \(threadIds.sorted())") }
        for (index, text) in parts.enumerated() {
            let k = index + 1
            if let post = byText[text], post.threadId == nil || post.threadPosition != k {
                errors.append("chain: \(post.id) \"\(text)\" is stored as part \(post.threadPosition.map(String.init) ?? "-") of \(post.threadId ?? "no thread"), scheduled as part \(k)")
            }
            // Part k counts once however often it is live (the copies count as duplicates).
            guard let live = onSim[text]?.first else { continue }
            if k == 1 {
                if let parent = live.in_reply_to { errors.append("chain: part 1 \(live.id) \"\(text)\" answers \(parent)") }
                continue
            }
            // Part k-1 live twice is a duplicate (counted above); part k must answer one of them.
            let before = onSim[parts[index - 1]] ?? []
            guard !before.isEmpty else {
                errors.append("chain: part \(k) \(live.id) \"\(text)\" is live, part \(k - 1) is not")
                continue
            }
            guard let parent = before.first(where: { $0.id == live.in_reply_to }) else {
                errors.append("chain: part \(k) \(live.id) \"\(text)\" answers \(live.in_reply_to ?? "nothing"), part \(k - 1) is \(before.map(\.id).joined(separator: ", "))")
                continue
            }
            if live.created_at_ms < parent.created_at_ms || (order[live.id] ?? 0) < (order[parent.id] ?? 0) {
                errors.append("chain: part \(k) \(live.id) created at \(live.created_at_ms), before part \(k - 1) \(parent.id) at \(parent.created_at_ms)")
            }
        }
        return errors
    }
}
