/// What is allowed but probably not meant: said by `steadypostd check-config` (on stderr,
/// exit 0) and logged as a warning when the daemon starts.
extension Config {
    public var warnings: [String] {
        var out: [String] = []
        if !APIConfig.isLoopbackHost(api.host.lowercased()) {
            let scope = api.host == "0.0.0.0" || api.host == "::" ? "every address of this machine" : api.host
            out.append("api.listen \(api.listen): the HTTP API is served in plain HTTP on \(scope); bearer tokens cross the network in clear unless a TLS proxy is in front")
            if api.healthPublic {
                out.append("api.health_public = true with api.listen \(api.listen): /health, /metrics and the dashboard (queue, accounts, recent failures) answer anyone who can reach this port")
            }
        }
        for account in accounts where account.baseURL.hasPrefix("http://") && !ConfigDecoder.isLoopbackURL(account.baseURL) {
            out.append("accounts \(account.name): base_url \(account.baseURL) is plain HTTP (allow_insecure_http = true): its tokens cross the network in clear")
        }
        return out
    }
}

extension APIConfig {
    /// `localhost`, 127.0.0.0/8 or `::1`.
    public static func isLoopbackHost(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
