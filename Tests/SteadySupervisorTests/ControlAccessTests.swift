import Testing
@testable import SteadySupervisor

struct ControlAccessTests {
    static let access = ControlAccess(serviceUid: 990, groupName: "steadypost", groupGid: 991)

    @Test("who may use the control socket",
          arguments: [
            (0, 0, [], true), (990, 990, [], true), (1000, 991, [], true), (1000, 1000, [4, 991], true),
            (1000, 1000, [4, 27], false), (65534, 65534, [], false),
          ] as [(UInt32, UInt32, [UInt32], Bool)])
    func decisions(uid: UInt32, gid: UInt32, groups: [UInt32], allowed: Bool) {
        let refusal = Self.access.refusal(uid: uid, gid: gid, supplementaryGroups: groups)
        #expect((refusal == nil) == allowed)
        if let refusal {
            #expect(refusal.contains("uid \(uid)") && refusal.contains("group steadypost"))
        }
    }

    @Test("without a configured group only root and the service user get in")
    func noGroup() {
        let a = ControlAccess(serviceUid: 990, groupName: nil, groupGid: nil)
        #expect(a.refusal(uid: 1000, gid: 991, supplementaryGroups: [991]) != nil)
        #expect(a.refusal(uid: 990, gid: 1, supplementaryGroups: []) == nil)
    }
}
