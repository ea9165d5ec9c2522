import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadySystem
import Testing
@testable import SteadyAPI

@Suite("API tokens", .serialized, .timeLimit(.minutes(1)))
struct TokenTests {
    @Test("a token is shown once, stored only hashed, refused once revoked")
    func createUseRevoke() throws {
        let f = try APIFixture()
        guard case .ok(let body) = f.service.tokenCreate(Array(#"{"name":"ci"}"#.utf8)) else { throw TestFailure("create refused") }
        let token = try #require(try JSON.parse(body)["token"]?.string)
        #expect(token.hasPrefix("spt_") && token.utf8.count == 68)
        #expect(try f.store.activeToken(hash: APITokens.hash(token))?.name == "ci")
        // Nothing in the database file holds the token itself.
        let db = Files.read(f.dir + "/state/steadypost.db", limit: 64 << 20) ?? ""
        let wal = Files.read(f.dir + "/state/steadypost.db-wal", limit: 64 << 20) ?? ""
        #expect(!db.contains(token) && !wal.contains(token))
        #expect(db.contains(APITokens.hash(token)) || wal.contains(APITokens.hash(token)))

        // A second active token of the same name is refused; the list shows the one.
        guard case .error(let code, _) = f.service.tokenCreate(Array(#"{"name":"ci"}"#.utf8)) else { throw TestFailure("duplicate accepted") }
        #expect(code == "conflict")
        guard case .error(let bad, let message) = f.service.tokenCreate(Array(#"{"name":"CI token"}"#.utf8)) else { throw TestFailure("bad name accepted") }
        #expect(bad == "invalid" && message.hasPrefix("name:"))

        guard case .ok = f.service.tokenRevoke(Array(#"{"name":"ci"}"#.utf8)) else { throw TestFailure("revoke refused") }
        #expect(try f.store.activeToken(hash: APITokens.hash(token)) == nil)
        guard case .error(let gone, _) = f.service.tokenRevoke(Array(#"{"name":"ci"}"#.utf8)) else { throw TestFailure("revoked twice") }
        #expect(gone == "not-found")
        guard case .ok(let listed) = f.service.tokenList() else { throw TestFailure("list refused") }
        let items = try JSON.parse(listed)["tokens"]?.array ?? []
        #expect(items.count == 1 && items.first?["active"]?.bool == false)
        #expect(!String(decoding: listed, as: UTF8.self).contains(token))
        // After revoking, the name can be used again.
        guard case .ok = f.service.tokenCreate(Array(#"{"name":"ci"}"#.utf8)) else { throw TestFailure("re-create refused") }
    }
}
