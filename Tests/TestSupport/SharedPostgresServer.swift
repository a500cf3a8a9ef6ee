import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process-wide shared server.
actor SharedPostgresServer {
    static let instance = SharedPostgresServer()

    /// The server to stop at exit, once started.
    private static let atExit = Mutex<PostgresServer?>(nil)

    private var starting: Task<Result<PostgresServer, PostgresServerError>, Never>?

    func server() async throws(PostgresServerError) -> PostgresServer {
        let task: Task<Result<PostgresServer, PostgresServerError>, Never>
        if let starting {
            task = starting
        } else {
            task = Task {
                do throws(PostgresServerError) {
                    let server = try await PostgresServer.start()
                    Self.stopAtExit(server)
                    return .success(server)
                } catch {
                    return .failure(error)
                }
            }
            starting = task
        }
        return try await task.value.get()
    }

    private static func stopAtExit(_ server: PostgresServer) {
        atExit.withLock { $0 = server }
        atexit {
            SharedPostgresServer.stopRegisteredServer()
        }
    }

    private static func stopRegisteredServer() {
        let server = atExit.withLock { registered -> PostgresServer? in
            defer { registered = nil }
            return registered
        }
        guard let server else { return }
        do {
            try server.stopBlocking(mode: .immediate)
        } catch {
            FileHandle.standardError.write(Data("warning: could not stop the shared test PostgreSQL server:\n\(error)\n".utf8))
        }
    }
}
