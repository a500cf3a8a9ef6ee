import Hummingbird
import Testing

/// `testLive`, the live-gateway runner the other suites use: a server that never listens fails the test with its own
/// error rather than leaving it waiting for a port (HummingbirdTesting's `test(.live)` waits forever there).
/// The limit only bounds a hang: in a full run on two cores a test this quick has waited over a minute for a thread.
@Suite("Live gateway test runner", .timeLimit(.minutes(5)))
struct LiveGatewayTests {
    struct Refused: Error, Equatable {}

    @Test func aServerThatFailsBeforeListeningThrowsItsErrorAndNeverRunsTheBody() async throws {
        var app = Application(router: Router())
        app.beforeServerStarts { throw Refused() }
        await #expect(throws: Refused.self) {
            try await app.testLive { _ in Issue.record("the body ran without a listening server") }
        }
    }
}
