import AmoreTestSupport
import Foundation
import Testing

/// The live map in a real browser (headless Chromium through Selenium, both installed by
/// `scripts/setup --test`), against `amore demo` with a small Austin: what a person sees.
/// The checks themselves are in `Tests/Browser/map_check.py` (its docstring lists them);
/// the screenshot goes to `test-output/map.png` (or `$AMORE_TEST_OUTPUT`).
@Suite struct MapBrowserTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func theMapDrawsTheCityShowsAZonesRankingAndFollowsNewVersions() throws {
        let servers = try TestBroker.bootstrapServers()
        // Three times real speed: a busy zone republishes within seconds, and every zone
        // at least once per 20 s of wall time (the 60 s event-time heartbeat).
        let demo = try EngineProcess("demo", servers: servers, topics: TestTopics("map"), extra: [
            "--stop-after", "600", "--restaurants", "80", "--couriers", "800", "--history", "5m", "--speed", "3",
        ])
        defer { _ = demo.terminate() }
        let output = ProcessInfo.processInfo.environment["AMORE_TEST_OUTPUT"].map(URL.init(fileURLWithPath:))
            ?? Self.packageRoot.appendingPathComponent("test-output")

        let (status, printed) = try runTool("/usr/bin/env", [
            "python3", Self.packageRoot.appendingPathComponent("Tests/Browser/map_check.py").path, "http://\(demo.http)", output.path,
        ], timeout_s: 240)
        print(printed, terminator: "")
        #expect(status == 0, "map_check.py: \(printed.suffix(3_000))\nengine: \(demo.logTail(10))")
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("map.png").path))
    }
}
