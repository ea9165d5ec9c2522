import Foundation
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

/// Logs in through the web form; the cookie header to send.
func webLogin(_ client: any TestClientProtocol, _ name: String, _ password: String) async throws -> (Reply, String) {
    let reply = try await client.form(.post, "/web/login", [("username", name), ("password", password)])
    let cookie = reply.header("set-cookie")?.split(separator: ";").first.map(String.init) ?? ""
    return (reply, cookie)
}

@Suite("Browser pages", .timeLimit(.minutes(1)))
struct WebTests {
    @Test("login, compose and the post page, for each platform", arguments: Platform.allCases)
    func browserPath(platform: Platform) async throws {
        try await withSimulator { client, _ in
            let credentials = try await client.account(platform, "web-account")
            let password = credentials["web_password"]?.stringValue ?? ""

            let loginPage = try await client.call(.get, "/web/login?account=web-account")
            #expect(loginPage.status == 200)
            for marker in ["id=\"username\"", "id=\"password\"", "<button type=\"submit\" id=\"login\">", "value=\"web-account\""] {
                #expect(loginPage.body.contains(marker), "\(marker)")
            }

            let (refused, _) = try await webLogin(client, "web-account", "wrong")
            #expect(refused.status == 401)
            #expect(refused.body.contains("id=\"login-error\""))

            let anonymous = try await client.call(.get, "/web/compose")
            #expect(anonymous.status == 303)
            #expect(anonymous.header("location") == "/web/login")

            let (login, cookie) = try await webLogin(client, "web-account", password)
            #expect(login.status == 303)
            #expect(login.header("location") == "/web/compose")
            #expect(cookie.hasPrefix("sim_session="))

            let compose = try await client.call(.get, "/web/compose", headers: [("cookie", cookie)])
            #expect(compose.status == 200)
            #expect(compose.body.contains("<textarea id=\"compose-text\" name=\"text\">"))
            #expect(compose.body.contains("<button type=\"submit\" id=\"compose-submit\">"))

            let posted = try await client.form(.post, "/web/compose", [("text", "from the browser <b>")], headers: [("cookie", cookie)])
            #expect(posted.status == 303)
            let location = posted.header("location") ?? ""
            #expect(location.hasPrefix("/web/posts/"))

            let truth = try await client.groundTruth("web-account")
            #expect(truth.count == 1)
            #expect(truth.first?["via"] == "browser")
            let id = truth.first?["id"]?.stringValue ?? ""
            #expect(location == "/web/posts/" + id.percentEncodedComponent)

            try await client.admin(.post, "/_sim/metrics", ["account": "web-account", "id": .string(id), "likes": 7, "impressions": 99])
            let page = try await client.call(.get, location)
            #expect(page.status == 200)
            #expect(page.body.contains("<article data-post-id=\"\(id)\""))
            #expect(page.body.contains("<p class=\"post-text\">from the browser &lt;b&gt;</p>"))
            for (metric, value) in [("likes", 7), ("reposts", 0), ("replies", 0), ("quotes", 0), ("impressions", 99)] {
                #expect(page.body.contains("<span data-metric=\"\(metric)\">\(value)</span>"), "\(metric)")
            }

            let tooLong = try await client.form(.post, "/web/compose", [("text", text(70_000))], headers: [("cookie", cookie)])
            #expect((400..<500).contains(tooLong.status))
            #expect(tooLong.body.contains("id=\"compose-error\""))
            #expect(try await client.groundTruth("web-account").count == 1)

            let missing = try await client.call(.get, "/web/posts/42")
            #expect(missing.status == 404)
        }
    }

    @Test("a post made by the API has the same public page")
    func apiPostPage() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue
            let created = try await client.api(.post, "/2/tweets", token: token, json: ["text": "api post"])
            let id = created.json["data"]?["id"]?.stringValue ?? ""
            let page = try await client.call(.get, "/web/posts/\(id)")
            #expect(page.body.contains("<p class=\"post-text\">api post</p>"))
        }
    }
}
