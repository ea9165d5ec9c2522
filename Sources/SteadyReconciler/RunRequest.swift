import SteadyPlatforms

/// The routed `reconciler.run` body: `{"account"?: NAME, "dry_run"?: bool, "deep"?: bool}`.
/// Anything else is refused with a message naming what is wrong.
struct RunRequest: Equatable, Sendable {
    var account: String?
    var dryRun = false
    /// Over the deep pass's window instead of the quick pass's.
    var deep = false

    struct Invalid: Error, Equatable {
        var message: String
    }

    static let keys = ["account", "dry_run", "deep"]

    static func parse(_ body: [UInt8], accounts: [String]) -> Result<RunRequest, Invalid> {
        let json: JSON
        if body.isEmpty {
            json = .object([])
        } else {
            do { json = try JSON.parse(body) } catch { return .failure(Invalid(message: "the request is not JSON: \(error)")) }
        }
        guard case .object(let members) = json else { return .failure(Invalid(message: "the request must be a JSON object")) }
        var request = RunRequest()
        for (key, value) in members {
            switch key {
            case "account":
                if value.isNull { continue }
                guard let name = value.string else { return .failure(Invalid(message: "account: expected a string")) }
                guard accounts.contains(name) else {
                    let known = accounts.isEmpty ? "none are configured" : "accounts: " + accounts.joined(separator: ", ")
                    return .failure(Invalid(message: "no account '\(name)' in the config (\(known))"))
                }
                request.account = name
            case "dry_run", "deep":
                guard let flag = value.bool else { return .failure(Invalid(message: "\(key): expected true or false")) }
                if key == "dry_run" { request.dryRun = flag } else { request.deep = flag }
            default:
                return .failure(Invalid(message: "unknown field '\(key)' (expected: \(keys.joined(separator: ", ")))"))
            }
        }
        return .success(request)
    }
}
