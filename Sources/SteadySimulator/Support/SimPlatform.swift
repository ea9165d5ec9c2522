/// The platforms the simulator plays. Its own type on purpose: the simulator is the
/// platforms' double and keeps its knowledge apart from the daemon's (SteadyCore's
/// `Platform` is an open name; this is the closed set the simulator serves).
public enum SimPlatform: String, CaseIterable, Sendable, Hashable, Codable {
    case x
    case mastodon
    case bluesky
    case facebook
}

/// Inside the simulator, `Platform` is the simulator's own.
typealias Platform = SimPlatform
