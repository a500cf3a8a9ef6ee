public import Foundation

/// Validator processes on this machine, one per home `DIR/node0 …` (made by `careledger testnet init`): started,
/// killed with SIGKILL, restarted and stopped. The one local network starter: `bench load`, `careledger demo` and
/// the fault tests run their networks with it, each validator a `careledger node start` process as in production.
/// Each node's output is appended to `DIR/nodeK/node.log`.
public final class LocalNetwork: @unchecked Sendable {
    // @unchecked: the process table is guarded by `lock`.
    public let directory: URL
    public let homes: [NodeHome]
    private let binary: URL
    private let arguments: [String]
    private let lock = NSLock()
    private var processes: [Process?]

    /// The homes `directory/node0 …` that exist, run by `binary` (`careledger`) with `arguments` after
    /// `node start --home H`.
    public init(directory: URL, binary: URL, arguments: [String] = []) throws {
        self.directory = directory
        self.binary = binary
        self.arguments = arguments
        var homes: [NodeHome] = []
        while FileManager.default.fileExists(atPath: directory.appendingPathComponent("node\(homes.count)/config/genesis.json").path) {
            homes.append(NodeHome(directory.appendingPathComponent("node\(homes.count)").path))
        }
        guard !homes.isEmpty else { throw NodeError("\(directory.path) holds no node homes (node0/config/genesis.json); run careledger testnet init --dir \(directory.path) first") }
        self.homes = homes
        processes = Array(repeating: nil, count: homes.count)
    }

    public var count: Int { homes.count }

    /// What `data/rpc.json` says: the process that listens, and where.
    struct Endpoint: Decodable {
        var port: Int
        var pid: Int
    }

    /// Starts node `k`, with `extra` arguments after the network's own (`--store URL` for the node that anchors),
    /// and returns once its RPC answers (its `data/rpc.json` names the new process).
    public func start(_ k: Int, arguments extra: [String] = [], timeout: Duration = .seconds(60)) async throws {
        let home = homes[k]
        let log = home.root.appendingPathComponent("node.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let output = try FileHandle(forWritingTo: log)
        _ = try output.seekToEnd()
        let process = Process()
        process.executableURL = binary
        process.arguments = ["node", "start", "--home", home.root.path] + arguments + extra
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        lock.withLock { processes[k] = process }
        let pid = Int(process.processIdentifier)
        let deadline = ContinuousClock.now + timeout
        while true {
            if let data = try? Data(contentsOf: home.rpcFile), let endpoint = try? JSONDecoder().decode(Endpoint.self, from: data), endpoint.pid == pid,
               let answer = try? await RPCClient.send(port: endpoint.port, method: "GET", path: "/status", timeout: 2), answer.status == 200 {
                return
            }
            guard process.isRunning else {
                throw NodeError("node\(k) exited with status \(process.terminationStatus) while starting; see \(log.path)")
            }
            guard ContinuousClock.now < deadline else { throw NodeError("node\(k) did not answer on its RPC within \(timeout); see \(log.path)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    public func startAll() async throws {
        for k in homes.indices { try await start(k) }
    }

    /// `kill -9` node `k`, and waits until it is gone.
    public func kill9(_ k: Int) {
        guard let process = lock.withLock({ processes[k] }), process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        lock.withLock { processes[k] = nil }
    }

    /// Stops node `k` with SIGTERM (a clean stop), and waits until it is gone.
    public func stop(_ k: Int) {
        guard let process = lock.withLock({ processes[k] }), process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
        lock.withLock { processes[k] = nil }
    }

    public func stopAll() {
        for k in homes.indices { stop(k) }
    }

    public func isRunning(_ k: Int) -> Bool { lock.withLock { processes[k]?.isRunning ?? false } }

    /// Node `k`'s RPC port, from its `data/rpc.json`.
    public func rpcPort(_ k: Int) throws -> Int { try homes[k].rpcPort() }

    /// POSTs or GETs `path` on node `k`'s RPC.
    public func call(_ k: Int, _ method: String, _ path: String, body: [UInt8] = [], timeout: Double = 10) async throws -> RPCResponse {
        try await RPCClient.send(port: try rpcPort(k), method: method, path: path, body: body, timeout: timeout)
    }
}
