import Glibc
import SteadySystem

/// Who may use the control socket: root, the service's own user, and members of one
/// optional group. Checked on every connection from its SO_PEERCRED.
public struct ControlAccess: Equatable, Sendable {
    public let serviceUid: UInt32
    public let groupName: String?
    public let groupGid: UInt32?

    public init(serviceUid: UInt32, groupName: String?, groupGid: UInt32?) {
        self.serviceUid = serviceUid
        self.groupName = groupName
        self.groupGid = groupGid
    }

    /// Resolves the configured group name with getgrnam.
    public static func resolve(groupName: String?) -> ControlAccess {
        var gid: UInt32?
        if let groupName, let entry = getgrnam(groupName) { gid = entry.pointee.gr_gid }
        return ControlAccess(serviceUid: getuid(), groupName: groupName, groupGid: gid)
    }

    /// nil when allowed, else the reason for the refusal.
    public func refusal(uid: UInt32, gid: UInt32, supplementaryGroups: [UInt32]) -> String? {
        if uid == 0 || uid == serviceUid { return nil }
        if let groupGid, gid == groupGid || supplementaryGroups.contains(groupGid) { return nil }
        let group = groupName.map { ", nor in group \($0)" } ?? ""
        return "permission denied: uid \(uid) is not root, nor the service user (uid \(serviceUid))\(group)"
    }
}
