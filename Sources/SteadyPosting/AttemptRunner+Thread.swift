import SteadyPlatforms
import SteadyStore

extension AttemptRunner {
    enum ThreadLinks {
        /// The part before (its id, and its cid when known) and the thread's first part as a
        /// strongRef when its cid is known (nil: the adapter reads what it lacks).
        case ready(parent: (uri: String, cid: String?), root: StrongRef?)
        /// The part before is not posted with an id (the store's claim gate should have
        /// held this part): give the claim back.
        case notYet(String)
    }

    /// What part N must name of the thread so far, read from the store: part N-1's id (and
    /// cid) and part 1's. Only for parts after the first.
    func threadLinks(_ post: Post) -> ThreadLinks {
        guard let threadId = post.threadId, let position = post.threadPosition, position > 1 else {
            return .notYet("post \(post.id) is not a later part of a thread")
        }
        let parts: [Post]
        do { parts = try store.threadParts(threadId: threadId) } catch {
            return .notYet("its thread cannot be read: \(error)")
        }
        guard let parent = parts.first(where: { $0.threadPosition == position - 1 }), parent.state == .posted, let parentId = parent.platformId,
              let first = parts.first(where: { $0.threadPosition == 1 }), let firstId = first.platformId else {
            return .notYet("part \(position - 1) of thread \(threadId) is not posted yet")
        }
        let root = first.platformCid.map { StrongRef(uri: firstId, cid: $0) }
        return .ready(parent: (parentId, parent.platformCid), root: root)
    }
}
