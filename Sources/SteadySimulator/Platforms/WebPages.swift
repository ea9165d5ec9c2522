import Foundation
import SteadyCore

/// The HTML pages of the browser path.
enum WebPages {
    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(escapeHTML(title))</title>
        <style>body{font-family:sans-serif;max-width:40em;margin:2em auto}textarea{width:100%;height:8em}.error{color:#a00}</style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    static func errorPage(status: Int, message: String) -> String {
        page(
            title: "\(status) \(ErrorBodies.reason(status))",
            body: "<h1>\(status) \(escapeHTML(ErrorBodies.reason(status)))</h1>\n<p class=\"error\" id=\"error\">\(escapeHTML(message))</p>")
    }

    static func login(account: String, error: String?) -> String {
        let errorLine = error.map { "<p class=\"error\" id=\"login-error\">\(escapeHTML($0))</p>\n" } ?? ""
        return page(
            title: "Log in",
            body: """
                <h1>Log in</h1>
                \(errorLine)<form method="post" action="/web/login" id="login-form">
                <label for="username">Account</label>
                <input type="text" id="username" name="username" value="\(escapeHTML(account))" autocomplete="username">
                <label for="password">Password</label>
                <input type="password" id="password" name="password" autocomplete="current-password">
                <button type="submit" id="login">Log in</button>
                </form>
                """)
    }

    static func compose(account: Account, error: String?, text: String) -> String {
        let errorLine = error.map { "<p class=\"error\" id=\"compose-error\">\(escapeHTML($0))</p>\n" } ?? ""
        return page(
            title: "Compose",
            body: """
                <h1>New post</h1>
                <p id="compose-account" data-account="\(escapeHTML(account.name))" data-platform="\(account.platform.rawValue)">Posting as \(escapeHTML(account.handle))</p>
                \(errorLine)<form method="post" action="/web/compose" id="compose-form">
                <textarea id="compose-text" name="text">\(escapeHTML(text))</textarea>
                <button type="submit" id="compose-submit">Post</button>
                </form>
                """)
    }

    static func post(_ post: Post, author: Account) -> String {
        let metrics = [
            ("likes", post.metrics.likes), ("reposts", post.metrics.reposts), ("replies", post.metrics.replies),
            ("quotes", post.metrics.quotes), ("impressions", post.metrics.impressions),
        ]
        .map { "<li>\($0.0): <span data-metric=\"\($0.0)\">\($0.1)</span></li>" }
        .joined(separator: "\n")
        let reply = post.inReplyTo.map { "<p class=\"post-reply\" data-in-reply-to=\"\(escapeHTML($0))\">In reply to \(escapeHTML($0))</p>\n" } ?? ""
        return page(
            title: "Post \(post.id)",
            body: """
                <article data-post-id="\(escapeHTML(post.id))" data-platform="\(post.platform.rawValue)" data-account="\(escapeHTML(post.account))">
                <header class="post-author">\(escapeHTML(author.displayName)) <span class="post-handle">@\(escapeHTML(author.handle))</span></header>
                \(reply)<p class="post-text">\(escapeHTML(post.text))</p>
                <time class="post-time" datetime="\(Timestamps.iso(ms: post.createdAtMs))">\(Timestamps.iso(ms: post.createdAtMs))</time>
                <ul class="post-metrics">
                \(metrics)
                </ul>
                </article>
                """)
    }
}

extension Store {
    /// The account behind the request's session cookie.
    func webAccount(_ request: SimRequest) -> Account? {
        request.simSession.flatMap { webSessions[$0] }.flatMap { accounts[$0] }
    }

    /// `GET /web/login?account=NAME`
    mutating func webLoginPage(_ ex: inout Exchange) -> SimResponse {
        .html(200, WebPages.login(account: ex.request.queryValue("account") ?? "", error: nil))
    }

    /// `POST /web/login` (form `username`, `password`)
    mutating func webLogin(_ ex: inout Exchange) -> SimResponse {
        let form = parseForm(ex.request.bodyText)
        let username = form.last { $0.0 == "username" }?.1 ?? ""
        let password = form.last { $0.0 == "password" }?.1 ?? ""
        guard let account = accounts[username], account.webPassword == password else {
            return .html(401, WebPages.login(account: username, error: "Wrong account name or password."))
        }
        ex.account = account.name
        let session = Identifiers.alphanumeric(32, using: &rng)
        webSessions[session] = account.name
        return .redirect(
            "/web/compose", headers: [("set-cookie", "sim_session=\(session); Path=/; HttpOnly; SameSite=Lax")])
    }

    /// `GET /web/compose`
    mutating func webComposePage(_ ex: inout Exchange) -> SimResponse {
        guard let account = webAccount(ex.request) else { return .redirect("/web/login") }
        return .html(200, WebPages.compose(account: account, error: nil, text: ""))
    }

    /// `POST /web/compose` (form `text`): the same creation as the API, `via: browser`.
    mutating func webCompose(_ ex: inout Exchange) -> SimResponse {
        guard let account = webAccount(ex.request) else { return .redirect("/web/login") }
        let text = parseForm(ex.request.bodyText).last { $0.0 == "text" }?.1 ?? ""
        func refuse(_ status: Int, _ message: String) -> SimResponse {
            .html(status, WebPages.compose(account: account, error: message, text: text))
        }
        let index: Int
        switch account.platform {
        case .x:
            let normalized = text.precomposedStringWithCanonicalMapping
            if let rejection = xValidate(account: account.name, normalizedText: normalized, now: ex.now) {
                switch rejection {
                case .empty: return refuse(400, "Your post is empty.")
                case .tooLong: return refuse(403, "Your post is over \(TextRules.xLimit) characters.")
                case .duplicate: return refuse(403, "Whoops! You already said that.")
                }
            }
            index = xCreatePost(
                account: account.name, text: normalized, inReplyTo: nil, via: "browser", rewrite: ex.rewriteURLs,
                now: ex.now)
        case .mastodon:
            if let message = Store.mastodonRejection(text) { return refuse(422, message) }
            index = mastodonCreatePost(
                account: account.name, text: text, inReplyTo: nil, idempotencyKey: nil, via: "browser",
                rewrite: ex.rewriteURLs, now: ex.now)
        case .bluesky:
            if let message = Store.blueskyRejection(text) { return refuse(400, message) }
            let record: JSON = [
                "$type": .string(Store.postCollection), "text": .string(text),
                "createdAt": .string(Timestamps.iso(ms: ex.now)),
            ]
            index = blueskyCreatePost(
                account: account, record: record, text: text, rkey: nil, inReplyTo: nil, via: "browser",
                rewrite: ex.rewriteURLs, now: ex.now)
            ex.rkey = posts[index].rkey
        case .facebook:
            if let message = Store.facebookRejection(text, hasMedia: false) { return refuse(400, message) }
            index = facebookCreatePost(
                account: account, text: text, media: [], via: "browser", rewrite: ex.rewriteURLs, now: ex.now)
        }
        return .redirect("/web/posts/" + posts[index].id.percentEncodedComponent)
    }

    /// `GET /web/posts/ID` (ID percent-encoded; Bluesky ids are `at://` URIs)
    mutating func webPost(_ ex: inout Exchange) -> SimResponse {
        let id = ex.request.parameters["id"] ?? ""
        guard let index = findPost(id), !posts[index].deleted, let author = accounts[posts[index].account] else {
            return .html(404, WebPages.errorPage(status: 404, message: "No such post."))
        }
        return .html(200, WebPages.post(posts[index], author: author))
    }
}
