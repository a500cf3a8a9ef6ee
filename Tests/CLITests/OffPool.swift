import Dispatch

/// Runs blocking work (a child process, a poll) on a Dispatch thread and awaits it, so that it does not hold one of
/// the few threads Swift concurrency runs every test on. On two cores a test that blocks for a minute in
/// `waitUntilExit` takes half of them: two such tests at once stalled every async suite in a full run until one
/// of them finished, and a one-minute time limit ran out while a test that takes milliseconds was waiting.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
