// swift-tools-version: 6.0
import PackageDescription

// One module per concern and per process role; C libraries as system-library targets with
// apt providers; a small C shim for what Glibc's Swift module does not export.
let package = Package(
    name: "steadypost",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "steadypostd", targets: ["steadypostd"]),
        .executable(name: "steadypost-worker", targets: ["steadypost-worker"]),
        .executable(name: "steadypost", targets: ["steadypost"]),
        .executable(name: "steadypost-sim", targets: ["steadypost-sim"]),
        .executable(name: "steadypost-api", targets: ["steadypost-api"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Already in the graph through Hummingbird; named so the api worker's connection
        // guard (a channel handler) can import NIOCore.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
    ],
    targets: [
        .target(name: "CShim"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),

        // TestHooks.swift: the test hooks (STEADYPOST_FAULTS and the rest, ARCHITECTURE.md "Test
        // hooks") exist in debug builds only, or in a release build made with
        // `-Xswiftc -DSTEADYPOST_TEST_HOOKS`; every module reads them through SteadyCore.TestHooks.
        .target(name: "SteadyCore", swiftSettings: [.define("STEADYPOST_TEST_HOOKS", .when(configuration: .debug))]),
        // A JSON value and a Codable coder over it, without Foundation: the supervisor's
        // protocol bodies, the adapters' platform bodies and the browser's DevTools messages.
        .target(name: "SteadyJSON"),
        .target(name: "SteadySystem", dependencies: [
            "CShim", "SteadyCore", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SteadyProtocol", dependencies: ["SteadyCore", "SteadyJSON"]),
        .target(name: "SteadyConfig", dependencies: ["SteadyCore"]),
        .target(name: "SteadySupervisor", dependencies: ["SteadyCore", "SteadySystem", "SteadyProtocol", "SteadyConfig"]),
        .target(name: "SteadyWorker", dependencies: ["SteadyCore", "SteadySystem", "SteadyProtocol", "SteadyConfig"]),
        .target(name: "SteadyStore", dependencies: ["CSQLite", "SteadyCore", "SteadyJSON"]),
        // Every process's token renewals: one renewer per account at a time (a flock under
        // state_dir/tokens), rotated tokens stored before use (posting and the readers share it).
        .target(name: "SteadyTokens", dependencies: [
            "SteadyCore", "SteadySystem", "SteadyConfig", "SteadyStore", "SteadyPlatforms", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SteadyPosting", dependencies: [
            "SteadyCore", "SteadySystem", "SteadyStore", "SteadyPlatforms", "SteadyHTTP", "SteadyWorker", "SteadyConfig", "SteadyTokens", "SteadyMedia",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The reconciler worker: each account's timeline against the store (F26, F30).
        .target(name: "SteadyReconciler", dependencies: [
            "SteadyCore", "SteadySystem", "SteadyStore", "SteadyPlatforms", "SteadyHTTP", "SteadyBackground", "SteadyWorker", "SteadyConfig",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SteadyControl", dependencies: ["SteadyCore", "SteadySystem", "SteadyProtocol"]),
        // The periodic workers: metrics and replies, over a shared background-thread base.
        .target(name: "SteadyBackground", dependencies: [
            "SteadyCore", "SteadySystem", "SteadyConfig", "SteadyStore", "SteadyPlatforms", "SteadyHTTP", "SteadyWorker",
            "SteadyTokens", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SteadyMetrics", dependencies: [
            "SteadyBackground", "SteadyCore", "SteadyConfig", "SteadyStore", "SteadyPlatforms", "SteadyHTTP", "SteadyWorker",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SteadyReplies", dependencies: [
            "SteadyBackground", "SteadyCore", "SteadySystem", "SteadyConfig", "SteadyStore", "SteadyPlatforms", "SteadyHTTP", "SteadyWorker",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The supervisor alone: it links none of the workers' modules (P6, ARCHITECTURE.md).
        // (no ArgumentParser either: it brings FoundationEssentials).
        .executableTarget(name: "steadypostd", dependencies: [
            "SteadySupervisor", "SteadyConfig", "SteadyCore", "SteadySystem",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The posting, metrics, replies, browser and reconciler workers.
        .executableTarget(name: "steadypost-worker", dependencies: [
            "SteadyWorker", "SteadyConfig", "SteadyCore", "SteadySystem", "SteadyPosting", "SteadyBrowser", "SteadyMetrics",
            "SteadyReplies", "SteadyReconciler",
        ]),
        .executableTarget(name: "steadypost", dependencies: [
            "SteadyControl", "SteadyConfig", "SteadyJSON", "SteadySystem",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The platform double (its own module: it shares no parsing code with the adapters).
        .target(name: "SteadySimulator", dependencies: [
            "SteadyCore", .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "steadypost-sim", dependencies: [
            "SteadySimulator", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The platforms as the daemon speaks to them: one HTTP client over libcurl, one
        // adapter protocol, one error taxonomy.
        // libcurl is dlopen'd on first use (CCurlLoader), so only HTTP-speaking workers map it.
        .target(name: "CCurlLoader"),
        .target(name: "SteadyHTTP", dependencies: ["CCurlLoader", "SteadyCore"]),
        .target(name: "SteadyPlatforms", dependencies: ["SteadyHTTP", "SteadyCore", "SteadyJSON"]),
        // The content-addressed media store (attachments, by SHA-256, streamed in chunks).
        .target(name: "SteadyMedia", dependencies: ["SteadyCore", "SteadySystem"]),
        // The browser pool: headless Chromium over the DevTools pipe, leased with deadlines.
        .target(name: "SteadyBrowser", dependencies: [
            "SteadyCore", "SteadyJSON", "SteadySystem", "SteadyConfig", "SteadyWorker",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The api worker: HTTP API, /health, /metrics, dashboard (Hummingbird). Its own
        // executable, so only this process maps Hummingbird and NIO.
        .target(name: "SteadyAPI", dependencies: [
            "SteadyCore", "SteadySystem", "SteadyConfig", "SteadyWorker", "SteadyStore", "SteadyPlatforms", "SteadyMedia",
            "SteadyHTTP", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "steadypost-api", dependencies: ["SteadyAPI", "SteadyWorker", "SteadyConfig", "SteadySystem", "SteadyCore"]),
        .executableTarget(name: "steadypost-bench", dependencies: [
            "SteadyCore", "SteadySystem", "SteadyProtocol", "SteadyControl", "SteadyStore", "SteadyHTTP", "SteadyPlatforms", "SteadyTokens",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // What the process-level test targets share: the simulator process, a scripted HTTP
        // server, temporary directories and stores, waiting with deadlines, ending by pid.
        .target(name: "SteadyTestSupport", dependencies: ["SteadyCore", "SteadySystem", "SteadyHTTP", "SteadyPlatforms", "SteadyStore", "SteadyControl", "SteadyProtocol"],
                path: "Tests/SteadyTestSupport"),
        .testTarget(name: "SteadyCoreTests", dependencies: ["SteadyCore", "CSQLite", "CCurl", "CSystemd"]),
        .testTarget(name: "SteadyJSONTests", dependencies: ["SteadyJSON"]),
        .testTarget(name: "SteadyProtocolTests", dependencies: ["SteadyProtocol", "SteadyCore", "SteadySystem"]),
        .testTarget(name: "SteadyConfigTests", dependencies: ["SteadyConfig", "SteadyCore"]),
        .testTarget(name: "SteadySupervisorTests", dependencies: ["SteadySupervisor"]),
        .testTarget(name: "SteadyWorkerTests", dependencies: ["SteadyWorker"]),
        .testTarget(name: "SteadySimulatorTests", dependencies: [
            "SteadySimulator", "SteadyCore", "SteadySystem", "SteadyTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "SteadyPlatformsTests", dependencies: ["SteadyPlatforms", "SteadyHTTP", "SteadyCore", "SteadySystem", "SteadyTestSupport"]),
        .testTarget(name: "SteadyStoreTests", dependencies: ["SteadyStore", "CSQLite", "SteadyCore", "SteadyTestSupport"]),
        .testTarget(name: "SteadyPostingTests", dependencies: ["SteadyPosting", "SteadyConfig", "SteadyCore", "SteadyStore", "SteadyPlatforms", "SteadyTokens", "SteadyTestSupport"]),
        .testTarget(name: "SteadyTokensTests", dependencies: [
            "SteadyTokens", "SteadyStore", "SteadyPlatforms", "SteadySystem", "SteadyCore", "SteadyHTTP", "SteadyTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SteadyBrowserTests", dependencies: [
            "SteadyBrowser", "SteadyJSON", "SteadySystem", "SteadyCore", "SteadyProtocol", "SteadyPosting", "SteadyPlatforms", "SteadyConfig", "SteadyTestSupport",
        ]),
        .testTarget(name: "SteadyReconcilerTests", dependencies: [
            "SteadyReconciler", "SteadyStore", "SteadyPlatforms", "SteadyConfig", "SteadyCore", "SteadyTestSupport", "SteadyBackground",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SteadyMediaTests", dependencies: ["SteadyMedia", "SteadyCore", "SteadySystem", "SteadyTestSupport"]),
        .testTarget(name: "SteadySystemTests", dependencies: ["SteadySystem", .product(name: "Logging", package: "swift-log")]),
        // SteadyBrowser: the dashboard is checked in real headless Chromium through the pool.
        .testTarget(name: "SteadyAPITests", dependencies: [
            "SteadyAPI", "SteadyConfig", "SteadyStore", "SteadyPlatforms", "SteadyHTTP", "SteadyCore", "SteadySystem", "SteadyBrowser", "SteadyTestSupport",
            "SteadyMedia",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SteadyMetricsTests", dependencies: ["SteadyMetrics", "SteadyBackground", "SteadyStore", "SteadyCore", "SteadyTestSupport"]),
        .testTarget(name: "SteadyRepliesTests", dependencies: [
            "SteadyReplies", "SteadyConfig", "SteadyPlatforms", "SteadyStore", "SteadyHTTP", "SteadyCore", "CSQLite", "SteadyTestSupport",
        ]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "SteadySystem", "SteadyProtocol", "SteadyControl", "CSystemd", "SteadyHTTP", "SteadyPlatforms", "SteadyStore", "SteadyMedia", "SteadyTestSupport",
        ]),
    ]
)

// The same strict settings for every target, in one place.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
