import Testing
@testable import SteadySupervisor
import SteadySystem

/// Which frame owns the descriptors a control-stream read brought: the last frame that starts
/// inside that read; a group inside no frame's start is closed.
struct PassedGroupTests {
    static let group = PassedGroup(start: 100, end: 200, descriptors: [])

    @Test("a frame starting in the read and reaching its end claims the group")
    func claims() {
        #expect(Self.group.claim(frameStart: 100, frameEnd: 200) == true)
        #expect(Self.group.claim(frameStart: 150, frameEnd: 5_000) == true)
    }

    @Test("a frame that ends inside the read waits: a later frame may start there")
    func waits() {
        #expect(Self.group.claim(frameStart: 100, frameEnd: 150) == nil)
        #expect(Self.group.claim(frameStart: 0, frameEnd: 120) == nil)
    }

    @Test("a frame that spans the read without starting in it does not own it: closed")
    func closes() {
        #expect(Self.group.claim(frameStart: 50, frameEnd: 300) == false)
        #expect(Self.group.claim(frameStart: 200, frameEnd: 300) == false)
    }
}
