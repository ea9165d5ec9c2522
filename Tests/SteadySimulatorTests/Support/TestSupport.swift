import Foundation
import Hummingbird
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

/// A response read whole.
struct Reply: Sendable {
    let status: Int
    let headers: [(String, String)]
    let body: String

    var json: JSON { JSON.parse(body) ?? .null }

    func header(_ name: String) -> String? {
        headers.first { $0.0 == name.lowercased() }?.1
    }
}

func fields(_ pairs: [(String, String)]) -> HTTPFields {
    var result = HTTPFields()
    for (name, value) in pairs {
        result.append(.init(name: .init(name)!, value: value))
    }
    return result
}

extension TestClientProtocol {
    /// Sends a request and reads the whole response.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> Reply {
        let response = try await execute(
            uri: uri, method: method, headers: fields(headers), body: body.map { ByteBuffer(string: $0) })
        return Reply(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name.canonicalName, $0.value) },
            body: String(buffer: response.body))
    }

    /// A JSON request with a bearer token.
    func api(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, json: JSON? = nil,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var all = headers
        if let token { all.append(("authorization", "Bearer \(token)")) }
        if json != nil { all.append(("content-type", "application/json")) }
        return try await call(method, uri, headers: all, body: json?.serialized)
    }

    /// A form request (`application/x-www-form-urlencoded`).
    func form(
        _ method: HTTPRequest.Method, _ uri: String, _ pairs: [(String, String)], headers: [(String, String)] = []
    ) async throws -> Reply {
        let body = pairs.map { "\($0.0.percentEncodedComponent)=\($0.1.percentEncodedComponent)" }.joined(separator: "&")
        return try await call(
            method, uri, headers: headers + [("content-type", "application/x-www-form-urlencoded")], body: body)
    }

    /// An admin call that must succeed; its JSON.
    @discardableResult
    func admin(_ method: HTTPRequest.Method, _ uri: String, _ json: JSON? = nil) async throws -> JSON {
        let reply = try await call(
            method, uri, headers: json == nil ? [] : [("content-type", "application/json")], body: json?.serialized)
        #expect((200..<300).contains(reply.status), "\(method) \(uri) → \(reply.status) \(reply.body)")
        return reply.json
    }

    /// Creates an account; its credentials.
    func account(_ platform: Platform, _ name: String) async throws -> JSON {
        let created = try await admin(.post, "/_sim/accounts", ["platform": .string(platform.rawValue), "name": .string(name)])
        return created["credentials"] ?? .null
    }

    /// Creates an account and returns (credentials, user id).
    func accountWithID(_ platform: Platform, _ name: String) async throws -> (JSON, String) {
        let created = try await admin(.post, "/_sim/accounts", ["platform": .string(platform.rawValue), "name": .string(name)])
        return (created["credentials"] ?? .null, created["user_id"]?.stringValue ?? "")
    }

    /// A Bluesky session for an account's credentials: (access, refresh, did).
    func blueskySession(_ credentials: JSON) async throws -> (String, String, String) {
        let reply = try await api(
            .post, "/xrpc/com.atproto.server.createSession", token: nil,
            json: ["identifier": credentials["identifier"] ?? .null, "password": credentials["password"] ?? .null])
        #expect(reply.status == 200, "createSession → \(reply.status) \(reply.body)")
        return (
            reply.json["accessJwt"]?.stringValue ?? "", reply.json["refreshJwt"]?.stringValue ?? "",
            reply.json["did"]?.stringValue ?? ""
        )
    }

    func groundTruth(_ account: String? = nil) async throws -> [JSON] {
        let uri = account.map { "/_sim/posts?account=\($0)" } ?? "/_sim/posts"
        return try await admin(.get, uri)["posts"]?.arrayValue ?? []
    }

    func advanceClock(ms: Int64) async throws {
        try await admin(.post, "/_sim/clock", ["advance_ms": .int(ms)])
    }

    func addFault(_ rule: JSON) async throws -> Int64 {
        try await admin(.post, "/_sim/faults", rule)["id"]?.intValue ?? -1
    }
}

/// Runs `body` against a fresh simulator through HummingbirdTesting (`.router` by default).
func withSimulator<T: Sendable>(
    seed: UInt64 = 1, _ setup: TestingSetup = .router,
    _ body: @Sendable (any TestClientProtocol, SimulatorServer) async throws -> T
) async throws -> T {
    let server = try SimulatorServer(configuration: SimulatorConfiguration(seed: seed))
    return try await server.makeApplication().test(setup) { client in
        defer { server.releaseHeldResponses() }
        return try await body(client, server)
    }
}

/// A fresh Bluesky TID for now.
func makeTID(offsetMicros: Int64 = 0) -> String {
    Identifiers.tid(micros: SteadyClock.wallMillis() * 1000 + offsetMicros, clockID: 7)
}

func text(_ count: Int, _ character: Character = "a") -> String {
    String(repeating: character, count: count)
}

/// The simulator's own platforms (SteadyCore's `Platform` is the daemon's open name).
typealias Platform = SimPlatform
