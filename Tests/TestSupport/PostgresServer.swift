public import PostgresNIO
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A throwaway PostgreSQL server for tests: its own data directory and socket directory under the temporary
/// directory, a free port on 127.0.0.1, trust authentication for the `postgres` superuser, no TLS, fsync off.
///
/// PostgreSQL refuses to run as root, so when the tests run as root (CI does) the directories are given to the
/// `postgres` system user and `initdb` / `pg_ctl` run through `runuser -u postgres --`.
///
/// Three ways to use it:
/// - `PostgresServer.shared()`: one server per test process, started on first use and stopped at process exit;
///   each test makes its own database on it with `createDatabase()` or `withTestDatabase { ... }`.
/// - `PostgresServer.withServer { server in ... }`: a private server, always stopped afterwards.
/// - `PostgresServer.start()` and `stop()`, when the lifetime must be managed by hand.
public final class PostgresServer: Sendable {
    /// How `pg_ctl stop` shuts the server down.
    public enum ShutdownMode: String, Sendable {
        /// Disconnects clients and shuts down cleanly.
        case fast
        /// Aborts every server process at once, without a shutdown checkpoint (fine for a throwaway server).
        case immediate
    }

    public let host: String
    public let port: Int
    /// The superuser, which every client may connect as without a password.
    public let user: String
    /// The maintenance database that always exists.
    public let database: String
    public let binaries: PostgresBinaries
    /// The temporary directory that holds `data` and `socket`; removed by `stop()`.
    public let baseDirectory: String
    public let dataDirectory: String
    public let socketDirectory: String

    /// The server log (`pg_ctl -l`).
    public var logPath: String { dataDirectory + "/log" }
    /// The server's Unix-domain socket.
    public var unixSocketPath: String { socketDirectory + "/.s.PGSQL.\(port)" }

    /// A PostgresNIO client configuration for `database` over TCP to 127.0.0.1, TLS disabled.
    public func configuration(database: String) -> PostgresClient.Configuration {
        PostgresClient.Configuration(
            host: host,
            port: port,
            username: user,
            password: nil,
            database: database,
            tls: .disable
        )
    }

    /// A PostgresNIO client configuration for the maintenance database (`postgres`).
    public var configuration: PostgresClient.Configuration { configuration(database: database) }

    /// Whether `stop()` has run.
    public var isStopped: Bool { stopped.withLock { $0 } }

    private let launcher: Launcher
    private let stopped = Mutex(false)

    private init(
        port: Int,
        binaries: PostgresBinaries,
        baseDirectory: String,
        dataDirectory: String,
        socketDirectory: String,
        launcher: Launcher
    ) {
        self.host = "127.0.0.1"
        self.port = port
        self.user = "postgres"
        self.database = "postgres"
        self.binaries = binaries
        self.baseDirectory = baseDirectory
        self.dataDirectory = dataDirectory
        self.socketDirectory = socketDirectory
        self.launcher = launcher
    }

    // MARK: - Starting

    /// Starts a new server: `initdb` into a fresh temporary directory, then `pg_ctl start` on a free loopback port
    /// (trying another port if the chosen one was taken in between). The caller must `stop()` it.
    ///
    /// - Parameter binaries: the server programs; found with `PostgresBinaries.locate()` when nil.
    public static func start(binaries: PostgresBinaries? = nil) async throws(PostgresServerError) -> PostgresServer {
        let binaries = try await resolve(binaries)
        let launcher = try Launcher.forCurrentUser()
        let base = try makeTemporaryDirectory()
        let data = base + "/data"
        let socket = base + "/socket"

        do throws(PostgresServerError) {
            try createDirectory(data)
            try createDirectory(socket)
            try launcher.giveAway([base, data, socket])

            let initdb = launcher.command([
                binaries.initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
                // A locale every Linux has, so initdb never fails on the machine's LANG; code-point collation.
                "--locale=C.UTF-8",
            ])
            let initResult = try await run(initdb, in: base)
            guard initResult.succeeded else {
                throw PostgresServerError(
                    "initdb failed",
                    command: initdb,
                    exitStatus: initResult.exitStatus,
                    output: initResult.output
                )
            }

            let attempts = 5
            for attempt in 1...attempts {
                let port = try LoopbackPort.free()
                let server = PostgresServer(
                    port: port,
                    binaries: binaries,
                    baseDirectory: base,
                    dataDirectory: data,
                    socketDirectory: socket,
                    launcher: launcher
                )
                try? FileManager.default.removeItem(atPath: server.logPath)
                let start = launcher.command([
                    binaries.pgCtl, "-D", data,
                    // max_connections: the tests share this server, and each store pools up to 12 connections (PostgresStore),
                    // each gateway process and CLI command opening its own; the default 100 ran out in a full parallel run.
                    "-o", "-p \(port) -k '\(socket)' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400",
                    "-l", server.logPath, "-w", "-t", "60", "start",
                ])
                let result = try await run(start, in: base, detachesDaemon: true)
                if result.succeeded {
                    return server
                }
                let log = server.logTail()
                // If pg_ctl gave up waiting, a postmaster may still be running: make sure it is gone.
                _ = try? await run(server.stopCommand(.immediate), in: base)
                let portTaken = ["could not bind", "Address already in use", "could not create any TCP/IP sockets"]
                    .contains { log.contains($0) }
                if portTaken && attempt < attempts {
                    continue
                }
                throw PostgresServerError(
                    portTaken
                        ? "pg_ctl start failed \(attempts) times because the chosen port was taken"
                        : "pg_ctl start failed",
                    command: start,
                    exitStatus: result.exitStatus,
                    output: result.output,
                    logTail: log
                )
            }
            throw PostgresServerError("pg_ctl start failed")  // not reached: the last attempt throws
        } catch {
            try? FileManager.default.removeItem(atPath: base)
            throw error
        }
    }

    /// Starts a server, runs `body` with it, and stops it (and removes its files) however `body` ends.
    public static func withServer<T>(
        isolation: isolated (any Actor)? = #isolation,
        binaries: PostgresBinaries? = nil,
        _ body: (PostgresServer) async throws -> T
    ) async throws -> T {
        let server = try await start(binaries: binaries)
        let result: T
        do {
            result = try await body(server)
        } catch {
            // The body's error says more than a failure to stop would.
            try? await server.stop()
            throw error
        }
        try await server.stop()
        return result
    }

    /// The process-wide server that tests share: started once, on first use; stopped (`pg_ctl stop -m immediate`)
    /// and its files removed when the process exits. Do not `stop()` it. Give each test its own database with
    /// `createDatabase()` or `withTestDatabase { ... }`.
    public static func shared() async throws(PostgresServerError) -> PostgresServer {
        try await SharedPostgresServer.instance.server()
    }

    // MARK: - Stopping

    /// Stops the server (`pg_ctl stop -m fast` by default) and removes its directories. Calling it again does
    /// nothing. Throws when the server could not be stopped; the directories are removed in any case.
    public func stop(mode: ShutdownMode = .fast) async throws(PostgresServerError) {
        guard markStopped() else { return }
        let command = stopCommand(mode)
        let result: CommandResult
        do throws(PostgresServerError) {
            result = try await Self.run(command, in: baseDirectory)
        } catch {
            killPostmaster()
            removeFiles()
            throw error
        }
        try finishStop(command: command, result: result)
    }

    /// `stop(mode:)` for places that cannot await (an `atexit` handler): blocks the calling thread.
    public func stopBlocking(mode: ShutdownMode = .immediate) throws(PostgresServerError) {
        guard markStopped() else { return }
        let command = stopCommand(mode)
        let result: CommandResult
        do throws(PostgresServerError) {
            result = try CommandRunner.runBlocking(command, currentDirectory: baseDirectory)
        } catch {
            killPostmaster()
            removeFiles()
            throw error
        }
        try finishStop(command: command, result: result)
    }

    /// The last `maxLines` lines of the server log ("" when there is no log yet).
    public func logTail(maxLines: Int = 30) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return PostgresServerError.tail(String(decoding: data, as: UTF8.self), maxLines: maxLines)
    }

    // MARK: - Details

    private func markStopped() -> Bool {
        stopped.withLock { isStopped in
            if isStopped { return false }
            isStopped = true
            return true
        }
    }

    private func stopCommand(_ mode: ShutdownMode) -> [String] {
        launcher.command([binaries.pgCtl, "-D", dataDirectory, "-m", mode.rawValue, "-w", "-t", "30", "stop"])
    }

    private func finishStop(command: [String], result: CommandResult) throws(PostgresServerError) {
        if result.succeeded {
            removeFiles()
            return
        }
        let log = logTail()
        killPostmaster()
        removeFiles()
        throw PostgresServerError(
            "pg_ctl stop failed",
            command: command,
            exitStatus: result.exitStatus,
            output: result.output,
            logTail: log
        )
    }

    /// The last resort when `pg_ctl stop` failed: SIGQUIT (immediate shutdown) to the postmaster named in
    /// postmaster.pid, and up to 5 s for it to remove that file on its way out.
    private func killPostmaster() {
        let pidFile = dataDirectory + "/postmaster.pid"
        guard let data = FileManager.default.contents(atPath: pidFile),
            let firstLine = String(decoding: data, as: UTF8.self).split(separator: "\n").first,
            let pid = pid_t(firstLine.trimmingCharacters(in: .whitespaces)), pid > 0
        else { return }
        guard kill(pid, SIGQUIT) == 0 else { return }
        for _ in 0..<50 where FileManager.default.fileExists(atPath: pidFile) {
            usleep(100_000)
        }
    }

    private func removeFiles() {
        try? FileManager.default.removeItem(atPath: baseDirectory)
    }

    private static func resolve(_ binaries: PostgresBinaries?) async throws(PostgresServerError) -> PostgresBinaries {
        if let binaries { return binaries }
        return try await PostgresBinaries.locate()
    }

    private static func run(
        _ command: [String],
        in directory: String,
        detachesDaemon: Bool = false
    ) async throws(PostgresServerError) -> CommandResult {
        try await CommandRunner.run(command, currentDirectory: directory, detachesDaemon: detachesDaemon)
    }

    private static func makeTemporaryDirectory() throws(PostgresServerError) -> String {
        var parent = FileManager.default.temporaryDirectory.path
        while parent.count > 1 && parent.hasSuffix("/") {
            parent.removeLast()
        }
        // A Unix socket path has room for about 107 bytes: fall back to /tmp when TMPDIR is deep.
        if (parent + "/careledger-pg-XXXXXX/socket/.s.PGSQL.65535.lock").utf8.count > 100 {
            parent = "/tmp"
        }
        var template = Array((parent + "/careledger-pg-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else {
            throw PostgresServerError("mkdtemp in \(parent) failed: errno \(errno)")
        }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func createDirectory(_ path: String) throws(PostgresServerError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: false,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw PostgresServerError("could not create the directory \(path): \(error)")
        }
    }
}

/// How server commands are run: directly, or as the `postgres` user through `runuser` when we are root.
private struct Launcher: Sendable {
    /// When running as root: `runuser` and the `postgres` user's ids.
    var runAsPostgres: (runuser: String, uid: uid_t, gid: gid_t)?

    static func forCurrentUser() throws(PostgresServerError) -> Launcher {
        guard geteuid() == 0 else { return Launcher(runAsPostgres: nil) }
        guard let entry = getpwnam("postgres") else {
            throw PostgresServerError(
                "running as root, and PostgreSQL refuses to run as root, but there is no `postgres` user to run it "
                    + "as: `apt-get install -y postgresql-15` creates it (or `useradd --system postgres`)"
            )
        }
        guard let runuser = CommandRunner.findExecutable("runuser") else {
            throw PostgresServerError(
                "running as root, and PostgreSQL refuses to run as root, but `runuser` (util-linux) was not found "
                    + "to run it as the `postgres` user: `apt-get install -y util-linux`"
            )
        }
        return Launcher(runAsPostgres: (runuser, entry.pointee.pw_uid, entry.pointee.pw_gid))
    }

    func command(_ arguments: [String]) -> [String] {
        guard let runAsPostgres else { return arguments }
        return [runAsPostgres.runuser, "-u", "postgres", "--"] + arguments
    }

    /// Gives `paths` to the `postgres` user when commands run as that user.
    func giveAway(_ paths: [String]) throws(PostgresServerError) {
        guard let runAsPostgres else { return }
        for path in paths where chown(path, runAsPostgres.uid, runAsPostgres.gid) != 0 {
            throw PostgresServerError("chown postgres \(path) failed: errno \(errno)")
        }
    }
}
