import FoundationEssentials
import SteadyCore
import SteadyStore

/// The chaos run's verdict: the simulator's ground truth (every post ever created) against
/// the store, per scheduled text (each is unique).
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
    var details: [String] = []

    var clean: Bool { failed + duplicates + lost + stuck + mismatches + quotaOverruns + mediaMismatches == 0 }

    struct SimPosts: Decodable {
        struct Item: Decodable {
            var id: String
            var account: String
            var text: String
            var created_at_ms: Int64
            var deleted: Bool?
            struct Media: Decodable { var sha256: String }
            var media: [Media]?
        }
        var posts: [Item]
    }

    /// `media`: the SHA-256s scheduled with each text that has media, in order.
    init(texts: [String: Int64], media: [String: [String]], sim: BenchSim, storePath: String, accounts: [String], quotaWindowMillis: Int64, quotaPerWindow: Int) {
        guard let body = sim.admin(.get, "/_sim/posts"),
              let truth = try? JSONDecoder().decode(SimPosts.self, from: Data(body)) else {
            die("chaos: cannot read the simulator's ground truth")
        }
        let ours = Set(accounts)
        var onSim: [String: [SimPosts.Item]] = [:]
        for p in truth.posts where ours.contains(p.account) && p.deleted != true { onSim[p.text, default: []].append(p) }
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
}
