import Foundation
import SteadyCore

/// Every endpoint the simulator serves (admin aside).
enum Route: String, Sendable {
    case xCreate, xRead, xLookup, xMe, xTimeline, xMentions, xToken
    case xMediaUpload, xMediaStatus, xMediaMetadata
    case mastodonCredentials, mastodonCreate, mastodonRead, mastodonLookup, mastodonTimeline
    case mastodonNotifications, mastodonInstance, mastodonMediaUpload, mastodonMediaStatus
    case blueskyCreateSession, blueskyRefreshSession, blueskyGetSession, blueskyCreateRecord
    case blueskyGetRecord, blueskyListRecords, blueskyGetPosts, blueskyNotifications, blueskyUploadBlob
    case facebookFeed, facebookPhotos, facebookPublished, facebookNode
    case webLoginPage, webLogin, webComposePage, webCompose, webPost

    /// The platform of an API route; nil for the web pages (the account's platform).
    var platform: Platform? {
        switch self {
        case .xCreate, .xRead, .xLookup, .xMe, .xTimeline, .xMentions, .xToken, .xMediaUpload, .xMediaStatus,
            .xMediaMetadata:
            return .x
        case .mastodonCredentials, .mastodonCreate, .mastodonRead, .mastodonLookup, .mastodonTimeline,
            .mastodonNotifications, .mastodonInstance, .mastodonMediaUpload, .mastodonMediaStatus:
            return .mastodon
        case .blueskyCreateSession, .blueskyRefreshSession, .blueskyGetSession, .blueskyCreateRecord,
            .blueskyGetRecord, .blueskyListRecords, .blueskyGetPosts, .blueskyNotifications, .blueskyUploadBlob:
            return .bluesky
        case .facebookFeed, .facebookPhotos, .facebookPublished, .facebookNode:
            return .facebook
        case .webLoginPage, .webLogin, .webComposePage, .webCompose, .webPost: return nil
        }
    }

    var category: EndpointCategory {
        switch self {
        case .xCreate, .mastodonCreate, .blueskyCreateRecord, .facebookFeed: return .create
        case .xRead, .mastodonRead, .blueskyGetRecord, .facebookNode: return .read
        case .xLookup, .mastodonLookup, .blueskyGetPosts: return .metrics
        case .xTimeline, .mastodonTimeline, .blueskyListRecords, .facebookPublished: return .timeline
        case .xMentions, .mastodonNotifications, .blueskyNotifications: return .mentions
        case .xMe, .mastodonCredentials, .mastodonInstance, .blueskyGetSession: return .me
        case .xToken, .blueskyRefreshSession: return .refresh
        case .blueskyCreateSession: return .session
        case .xMediaUpload, .xMediaMetadata, .mastodonMediaUpload, .blueskyUploadBlob, .facebookPhotos: return .upload
        case .xMediaStatus, .mastodonMediaStatus: return .mediaStatus
        case .webLoginPage, .webLogin: return .webLogin
        case .webComposePage, .webCompose: return .webCompose
        case .webPost: return .webResult
        }
    }

    var isWeb: Bool { platform == nil }

    /// The largest body read for the route: uploads get their platform's limit plus room for
    /// the multipart envelope (a larger one is refused before it is read); the rest 4 MiB.
    var maxBodyBytes: Int {
        switch self {
        case .xMediaUpload: return XMediaLimits.segmentBytes + (1 << 20)
        case .mastodonMediaUpload: return MastodonMediaLimits.videoBytes + (1 << 20)
        case .blueskyUploadBlob: return BlueskyMediaLimits.blobBytes + 1
        case .facebookPhotos: return FacebookMediaLimits.photoBytes + (1 << 20)
        default: return 4 << 20
        }
    }
}

/// A request as the simulator sees it: everything read, nothing streaming.
struct SimRequest: Sendable {
    let method: String
    let path: String
    let query: [(String, String)]
    /// Header names lowercased.
    let headers: [(String, String)]
    let body: [UInt8]
    /// Path parameters, percent-decoded.
    let parameters: [String: String]

    func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0 == lower }?.1
    }

    func queryValue(_ key: String) -> String? {
        query.first { $0.0 == key }?.1
    }

    func queryValues(_ key: String) -> [String] {
        query.filter { $0.0 == key }.map(\.1)
    }

    /// The bearer token, when the Authorization header carries one.
    var bearer: String? {
        guard let value = header("authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    var hasAuthorization: Bool { header("authorization") != nil }

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// `http://HOST` from the Host header, for absolute URLs in bodies.
    var origin: String {
        "http://" + (header("host") ?? "127.0.0.1")
    }

    var contentType: String {
        (header("content-type") ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
    }

    /// Form fields merged from the query string and a form or JSON body (Rails-style params).
    var params: [(String, String)] {
        var out = query
        if contentType == "application/json" {
            if case .object(let members)? = JSON.parse(body) {
                for member in members {
                    switch member.value {
                    case .string(let s): out.append((member.key, s))
                    case .int(let i): out.append((member.key, String(i)))
                    case .bool(let b): out.append((member.key, b ? "true" : "false"))
                    case .double(let d): out.append((member.key, String(d)))
                    case .array(let items):
                        for item in items {
                            if let s = item.stringValue { out.append((member.key + "[]", s)) }
                        }
                    default: break
                    }
                }
            }
        } else if contentType == "application/x-www-form-urlencoded" || contentType.isEmpty {
            out += parseForm(bodyText)
        }
        return out
    }

    /// The session cookie of the web pages.
    var simSession: String? {
        guard let cookie = header("cookie") else { return nil }
        for part in cookie.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == "sim_session" {
                return pair[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}

/// A response about to be sent.
struct SimResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    static func json(_ status: Int, _ body: JSON, headers: [(String, String)] = []) -> SimResponse {
        SimResponse(
            status: status,
            headers: [("content-type", "application/json; charset=utf-8")] + headers,
            body: Array(body.serialized.utf8))
    }

    static func html(_ status: Int, _ body: String, headers: [(String, String)] = []) -> SimResponse {
        SimResponse(
            status: status,
            headers: [("content-type", "text/html; charset=utf-8")] + headers,
            body: Array(body.utf8))
    }

    static func redirect(_ location: String, headers: [(String, String)] = []) -> SimResponse {
        SimResponse(status: 303, headers: [("location", location)] + headers, body: [])
    }

    mutating func addHeaders(_ extra: [(String, String)]) {
        for (name, value) in extra {
            headers.removeAll { $0.0 == name }
            headers.append((name, value))
        }
    }
}

/// A response is also how handlers bail out early (`Result<_, SimResponse>`).
extension SimResponse: Error {}

/// What the handling of one request learned along the way, for faults and the request log.
struct Exchange: Sendable {
    let route: Route
    let request: SimRequest
    let now: Int64
    var account: String?
    var platform: Platform?
    var rateHeaders: [(String, String)] = []
    var idempotencyKey: String?
    var rkey: String?
    /// Set by the `rewrite-urls` fault.
    var rewriteURLs = false
    /// Set by the `slow-timeline` fault: the page size cap.
    var pageCap: Int?
    /// A `slow-processing` or `processing-failure` fault, for the upload it hit.
    var processingFault: FiredFault?
}

/// The end of a request's handling.
enum Delivery: Sendable {
    /// Send the response now.
    case send
    /// Close the connection without a response.
    case lose
    /// Hold the response for a while (nil: until the server stops), then send it.
    case hold(Int64?)
}

/// The outcome of the locked part of a request.
struct Outcome: Sendable {
    var response: SimResponse
    var delivery: Delivery
    var account: String?
    var fault: FaultKind?
}
