import Glibc
import SteadyCore
import SteadyStore
import SteadySystem
import Synchronization

/// Test-only fault points along an attempt, switched on by `STEADYPOST_FAULTS` (a test hook:
/// read once, through `TestHooks`, when the posting worker starts, and only in a build with
/// the hooks; a worker without it has no `PostingFaults` at all, so nothing is checked and
/// nothing is paid). A comma-separated list of:
///
/// | entry | effect |
/// |---|---|
/// | `crash:POINT[@ACCOUNT][#N]` | the worker SIGKILLs itself at `POINT` of an attempt (of `ACCOUNT`'s, if given; of a thread's part `N` only, if given) |
/// | `outcome-write-fails[@ACCOUNT]` | the outcome write after a 2xx create fails with an I/O error: it goes to the journal |
/// | `outcome-write-fails:P[@ACCOUNT]` | the same for each 2xx create with probability `P` (0 < P ≤ 1); not one-shot (the chaos run) |
/// | `store-unwritable:MS[@ACCOUNT]` | from the first 2xx create on, every store write fails with an I/O error for `MS` ms |
/// | `abort:POINT@ACCOUNT` | every attempt of `ACCOUNT`'s aborts the worker (SIGABRT, a crash) at `POINT`: a poison post (F27); not one-shot |
///
/// Points, in the order an attempt meets them: for a post with media, `between_segments`
/// (an X upload's progress stored after a segment, more to come) and `after_uploads` (every
/// handle stored, no attempt yet); then `before_intent` (claimed, attempt not
/// committed), `after_intent` (attempt committed, nothing sent), `after_send` (the whole
/// request left and the platform's answer is arriving, unread: the HTTP client's observer),
/// `after_response` (the answer is read, nothing decided), `before_outcome_commit`,
/// `after_outcome_commit`.
///
/// Every entry but `abort` and `outcome-write-fails:P` fires once across restarts (the restarted worker inherits the variable): it
/// is recorded, fsync'd, in `state_dir/faults.fired` (`ENTRY POST_ID` lines) before it acts.
/// A post that a crash entry has already killed the worker on is passed over by the others:
/// a second death would park it as poison (F27), which is F27's test, not these.
public final class PostingFaults: Sendable {
    public enum CrashPoint: String, CaseIterable, Sendable {
        /// An X upload has sent a segment (and stored its progress) and more are to come.
        case betweenSegments = "between_segments"
        /// Every attachment is uploaded and its handle stored; the attempt has not begun.
        case afterUploads = "after_uploads"
        case beforeIntent = "before_intent"
        case afterIntent = "after_intent"
        case afterSend = "after_send"
        case afterResponse = "after_response"
        case beforeOutcomeCommit = "before_outcome_commit"
        case afterOutcomeCommit = "after_outcome_commit"
    }

    public enum Kind: Equatable, Sendable {
        case crash(CrashPoint)
        case outcomeWriteFails
        /// Each time with this probability, never recorded as spent (logged in the fired file).
        case outcomeWriteFailsAtRate(Double)
        case storeUnwritable(millis: Int64)
        /// Every time, never recorded as fired: the account's posts are poison.
        case abort(CrashPoint)
    }

    public struct Entry: Equatable, Sendable {
        public var kind: Kind
        public var account: String?
        /// Only a thread's part at this position (`#N`).
        public var part: Int? = nil
        /// As written in the variable: the key recorded in the fired file.
        public var text: String
    }

    public static let variable = TestHooks.Variable.faults.rawValue

    public let entries: [Entry]
    let firedPath: String
    /// Called instead of SIGKILL by unit tests.
    let killSelf: @Sendable () -> Void
    private let state: Mutex<State>

    struct State {
        /// Entries fired (the fired file's keys), and the posts a crash entry has killed on.
        var fired: Set<String>
        var victims: Set<String>
        /// While the store refuses writes (wall ms), once `store-unwritable` has fired.
        var unwritableUntil: Int64?
    }

    /// nil when the variable is not set (or empty), and always in a build without the test
    /// hooks; throws on an entry it does not know.
    public static func from(environment: [String: String], stateDir: String) throws(PostingStartError) -> PostingFaults? {
        guard let text = TestHooks.value(.faults, in: environment), text.contains(where: { !$0.isWhitespace }) else { return nil }
        return PostingFaults(entries: try parse(text), firedPath: stateDir + "/faults.fired")
    }

    public init(entries: [Entry], firedPath: String, killSelf: @escaping @Sendable () -> Void = { _ = kill(getpid(), SIGKILL) }) {
        self.entries = entries
        self.firedPath = firedPath
        self.killSelf = killSelf
        var fired: Set<String> = []
        var victims: Set<String> = []
        for line in (Files.read(firedPath) ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard let key = parts.first else { continue }
            fired.insert(key)
            if key.hasPrefix("crash:"), parts.count > 1 { victims.insert(parts[1]) }
        }
        state = Mutex(State(fired: fired, victims: victims))
    }

    public static func parse(_ text: String) throws(PostingStartError) -> [Entry] {
        var out: [Entry] = []
        for raw in text.split(separator: ",") {
            let whole = raw.filter { !$0.isWhitespace }
            guard !whole.isEmpty else { continue }
            var item = whole
            var part: Int?
            if let hash = whole.lastIndex(of: "#") {
                guard let n = Int(whole[whole.index(after: hash)...]), n >= 1 else {
                    throw PostingStartError("\(variable): '\(whole)': '#N' names a thread part, 1 or more")
                }
                part = n
                item = String(whole[..<hash])
            }
            let at = item.firstIndex(of: "@")
            let account = at.map { String(item[item.index(after: $0)...]) }
            let body = at.map { String(item[..<$0]) } ?? item
            if let account, account.isEmpty { throw PostingStartError("\(variable): '\(item)': empty account after '@'") }
            let kind: Kind
            if body.hasPrefix("crash:") {
                let name = String(body.dropFirst("crash:".count))
                guard let point = CrashPoint(rawValue: name) else {
                    throw PostingStartError("\(variable): '\(item)': unknown crash point '\(name)'; points: \(CrashPoint.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                kind = .crash(point)
            } else if body.hasPrefix("abort:") {
                let name = String(body.dropFirst("abort:".count))
                guard let point = CrashPoint(rawValue: name) else {
                    throw PostingStartError("\(variable): '\(item)': unknown crash point '\(name)'; points: \(CrashPoint.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                guard account != nil else {
                    throw PostingStartError("\(variable): '\(item)': abort needs an account (abort:\(name)@ACCOUNT): it fires on every attempt")
                }
                kind = .abort(point)
            } else if body == "outcome-write-fails" {
                kind = .outcomeWriteFails
            } else if body.hasPrefix("outcome-write-fails:") {
                guard let p = Double(body.dropFirst("outcome-write-fails:".count)), p > 0, p <= 1 else {
                    throw PostingStartError("\(variable): '\(item)': outcome-write-fails:P needs a probability 0 < P ≤ 1 (outcome-write-fails:0.05)")
                }
                kind = .outcomeWriteFailsAtRate(p)
            } else if body.hasPrefix("store-unwritable:") {
                guard let ms = Int64(body.dropFirst("store-unwritable:".count)), ms > 0 else {
                    throw PostingStartError("\(variable): '\(item)': store-unwritable needs a positive duration in ms (store-unwritable:3000)")
                }
                kind = .storeUnwritable(millis: ms)
            } else {
                throw PostingStartError("\(variable): unknown fault '\(item)'; known: crash:POINT, outcome-write-fails, outcome-write-fails:P, store-unwritable:MS (each optionally @ACCOUNT), abort:POINT@ACCOUNT")
            }
            var crashes = false
            if case .crash = kind { crashes = true }
            if part != nil && !crashes {
                throw PostingStartError("\(variable): '\(whole)': only crash entries take a thread part (#N)")
            }
            out.append(Entry(kind: kind, account: account, part: part, text: whole))
        }
        return out
    }

    public var summary: String { entries.map(\.text).joined(separator: ",") }

    /// Takes the first entry not fired yet that matches; records it (fsync'd) as fired.
    private func take(_ matches: (Entry) -> Bool, account: String, postId: String, part: Int? = nil) -> Entry? {
        state.withLock { state -> Entry? in
            guard let entry = entries.first(where: {
                !state.fired.contains($0.text) && ($0.account == nil || $0.account == account) && ($0.part == nil || $0.part == part) && matches($0)
            }) else {
                return nil
            }
            if case .crash = entry.kind {
                if state.victims.contains(postId) { return nil }
                state.victims.insert(postId)
            }
            state.fired.insert(entry.text)
            Self.appendLine(firedPath, "\(entry.text) \(postId)\n")
            return entry
        }
    }

    /// A crash point: SIGKILL (once) if an entry names it; abort (every time) if an `abort`
    /// entry names it and the account.
    public func crash(at point: CrashPoint, account: String, postId: String, part: Int? = nil, log: (String) -> Void) {
        if entries.contains(where: { $0.kind == .abort(point) && $0.account == account }) {
            log("fault injection (\(Self.variable)): abort at \(point.rawValue), post \(postId) (poison)")
            abort()
        }
        guard take({ $0.kind == .crash(point) }, account: account, postId: postId, part: part) != nil else { return }
        log("fault injection (\(Self.variable)): SIGKILL at \(point.rawValue), post \(postId)")
        killSelf()
    }

    /// The outcome of a 2xx create is about to be written: the error to fail it with, if
    /// an entry says so. Also opens a `store-unwritable` window.
    public func outcomeWriteFailure(account: String, postId: String) -> DatabaseFailure? {
        if let entry = take({ if case .storeUnwritable = $0.kind { return true } else { return false } }, account: account, postId: postId),
           case .storeUnwritable(let ms) = entry.kind {
            state.withLock { $0.unwritableUntil = SteadyClock.wallMillis() + ms }
        }
        if take({ $0.kind == .outcomeWriteFails }, account: account, postId: postId) != nil { return Self.ioError("outcome-write-fails") }
        for entry in entries where entry.account == nil || entry.account == account {
            guard case .outcomeWriteFailsAtRate(let p) = entry.kind, Double.random(in: 0..<1) < p else { continue }
            state.withLock { _ in Self.appendLine(firedPath, "\(entry.text) \(postId)\n") }
            return Self.ioError(entry.text)
        }
        return nil
    }

    /// Asked before every store write (`FaultInjectingStore`, in front of the posting worker's store).
    public func storeWriteFailure() -> DatabaseFailure? {
        let until = state.withLock { $0.unwritableUntil }
        guard let until, SteadyClock.wallMillis() < until else { return nil }
        return Self.ioError("store-unwritable")
    }

    static func ioError(_ entry: String) -> DatabaseFailure {
        DatabaseFailure.injectedIOError("injected by \(variable) \(entry)")
    }

    /// Appends and fsyncs, so the mark survives the SIGKILL that follows. A mark that cannot
    /// be written leaves the fault to fire again after the restart (tests see it: it loops).
    static func appendLine(_ path: String, _ line: String) {
        guard let fd = try? syscall("open(\(path))", { open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600) }) else { return }
        defer { _ = close(fd) }
        let bytes = Array(line.utf8)
        _ = try? syscall("write(\(path))") { bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        _ = try? syscall("fsync(\(path))") { fsync(fd) }
    }
}
