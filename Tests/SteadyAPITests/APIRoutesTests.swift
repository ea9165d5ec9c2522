import SteadyHTTP
import SteadyPlatforms
import SteadySystem
import Testing
@testable import SteadyAPI

/// The OpenAPI document's operations as `METHOD /path`, with their operationIds.
func documentedOperations() throws -> [String: String] {
    guard let text = Files.read(repositoryRoot + "/openapi/steadypost.json") else { throw TestFailure("openapi/steadypost.json is missing") }
    let doc = try JSON.parse(text)
    #expect(doc["openapi"]?.string?.hasPrefix("3.") == true)
    guard case .object(let paths)? = doc["paths"] else { throw TestFailure("the document has no paths") }
    var out: [String: String] = [:]
    for (path, item) in paths {
        guard case .object(let operations) = item else { continue }
        for (method, operation) in operations where ["get", "post", "put", "delete", "patch"].contains(method) {
            out["\(method.uppercased()) \(path)"] = operation["operationId"]?.string ?? ""
        }
    }
    return out
}

@Suite("routes against the OpenAPI document", .serialized, .timeLimit(.minutes(2)))
struct APIRoutesTests {
    @Test("every route the server registers is in openapi/steadypost.json, and every documented one is registered")
    func routesMatchTheDocument() throws {
        let documented = try documentedOperations()
        let served = Dictionary(uniqueKeysWithValues: APIRoute.all.map { ($0.description, $0.name.rawValue) })
        #expect(Set(documented.keys) == Set(served.keys), "only documented: \(Set(documented.keys).subtracting(served.keys)); only served: \(Set(served.keys).subtracting(documented.keys))")
        for (operation, id) in served { #expect(documented[operation] == id, "\(operation): operationId \(documented[operation] ?? "-") ≠ \(id)") }
        // Token routes declare the bearer scheme; the operator pages do not.
        let doc = try JSON.parse(Files.read(repositoryRoot + "/openapi/steadypost.json") ?? "")
        for route in APIRoute.all {
            let security = doc["paths"]?[route.path]?[route.method.lowercased()]?["security"]
            #expect((security != nil) == (route.access == .token), "\(route)")
        }
    }

    @Test("the live server answers every documented route, and nothing else")
    func liveServerServesTheDocument() throws {
        let f = try APIFixture()
        _ = try f.serve()
        for operation in try documentedOperations().keys {
            let parts = operation.split(separator: " ")
            let method = HTTPMethod(rawValue: String(parts[0]))!
            let path = String(parts[1]).replacingPathParameter()
            let r = try f.send(method, path, body: method == .post ? "{}" : nil)
            if path.hasPrefix("/media/") {
                // Registered: its own 404 for a link it did not sign, not the router's.
                #expect(r.status == 404 && r.text.contains("no such media link"), "\(operation): \(r.status) \(r.text.prefix(200))")
            } else if path.hasPrefix("/api/") {
                // Registered, and guarded: without a token the answer is 401 naming the header.
                #expect(r.status == 401, "\(operation): \(r.status)")
                #expect(try JSON.parse(r.body)["error"]?["field"]?.string == "Authorization")
                #expect(r.headers["WWW-Authenticate"]?.hasPrefix("Bearer") == true)
            } else {
                #expect(r.status == 200, "\(operation): \(r.status) \(r.text.prefix(200))")
            }
        }
        for (method, path) in [(HTTPMethod.get, "/api/nothing"), (.put, "/api/posts"), (.get, "/healthz"), (.post, "/metrics")] {
            let r = try f.send(method, path)
            #expect(r.status == 404 || r.status == 405, "\(method.rawValue) \(path): \(r.status)")
        }
    }

    @Test("/metrics is valid Prometheus text: HELP and TYPE for every family, escaped labels")
    func metricsShape() throws {
        let f = try APIFixture()
        let text = f.service.metrics(status: statusJSON(workers: [("browser", "running", [("leases", 3)])], lateJobs: 0), statusError: nil, now: 1_000_000)
        var typed = Set<String>()
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") { typed.insert(String(line.split(separator: " ")[2])) }
            guard !line.hasPrefix("#") else { continue }
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            let family = ["_bucket", "_sum", "_count"].reduce(name) { n, s in typed.contains(n) ? n : (n.hasSuffix(s) ? String(n.dropLast(s.count)) : n) }
            #expect(typed.contains(family), "\(name) has no TYPE line")
        }
        #expect(text.contains("steadypost_worker_figure{role=\"browser\",name=\"leases\"} 3"))
        #expect(text.contains("steadypost_posts{state=\"scheduled\"} 0"))
        #expect(text.contains("steadypost_post_latency_seconds_bucket{le=\"+Inf\"} 0"))
        #expect(MetricsWriter.escape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
    }

    @Test("the operator pages' loopback rule: 127.0.0.0/8 and ::1 only")
    func loopbackRule() throws {
        for a in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] { #expect(APIRequestContext.isLoopback(a), "\(a)") }
        for a in ["10.0.0.1", "192.168.1.127", "::2", "fe80::1", "::ffff:10.0.0.1", "1270::1"] { #expect(!APIRequestContext.isLoopback(a), "\(a)") }
        #expect(!APIRequestContext.isLoopback(nil))
        let closed = try APIFixture()
        #expect(closed.service.localAllowed(peer: "127.0.0.1") && !closed.service.localAllowed(peer: "10.1.2.3"))
        let public_ = try APIFixture(apiTOML: "health_public = true\n")
        #expect(public_.service.localAllowed(peer: "10.1.2.3"))
    }

    @Test("posting validation messages name their field")
    func fieldNames() {
        #expect(APIService.field(of: "posts[2]: text: missing") == "posts[2].text")
        #expect(APIService.field(of: "text: expected a string") == "text")
        #expect(APIService.field(of: "posts[0]: x would refuse it: text is 300 weighted characters") == "posts[0].text")
        #expect(APIService.field(of: "unknown account 'zz'; configured: news-x") == "account")
        #expect(APIService.field(of: "posts[1]: unknown account 'zz'; configured: news-x") == "posts[1].account")
        #expect(APIService.field(of: "unknown state 'nope'; states: scheduled") == "state")
        #expect(APIService.field(of: "the request is not JSON: invalid JSON at byte 0") == "body")
    }
}

extension String {
    /// `/api/posts/{id}` → `/api/posts/p_0`.
    func replacingPathParameter() -> String {
        split(separator: "/", omittingEmptySubsequences: false).map { $0.hasPrefix("{") ? "p_0" : String($0) }.joined(separator: "/")
    }
}
