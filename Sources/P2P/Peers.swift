import Ledger
import NIOCore
import NIOPosix
import Synchronization

/// The node's table of connections and sessions, and its dialers; shared by the listener, the dialers and every
/// connection's ``SessionHandler``. At most one session per peer.
final class Peers: Sendable {
    let config: P2PConfig
    let onMessage: @Sendable (PublicKey, [UInt8]) -> Void
    let onPeer: @Sendable (PublicKey, Bool) -> Void
    private let state = Mutex(State())

    private struct State {
        /// Every open connection, authenticated or not, so that stop and disconnectAll reach them all.
        var connections: [ObjectIdentifier: any Channel] = [:]
        var sessions: [PublicKey: Session] = [:]
        var dialed: [PublicKey: Dial] = [:]
        /// Between disconnectAll() and reconnect(): no dialing, new connections refused.
        var paused = false
        var stopped = false
    }

    /// A peer this node keeps a connection to, and the task doing it (nil while paused).
    private struct Dial {
        var host: String
        var port: Int
        var task: Task<Void, Never>?
    }

    init(config: P2PConfig, onMessage: @escaping @Sendable (PublicKey, [UInt8]) -> Void,
         onPeer: @escaping @Sendable (PublicKey, Bool) -> Void) {
        self.config = config
        self.onMessage = onMessage
        self.onPeer = onPeer
    }

    // MARK: Sessions

    var connected: [PublicKey] { state.withLock { $0.sessions.keys.sorted() } }

    /// Open connections, authenticated or not.
    var connectionCount: Int { state.withLock { $0.connections.count } }

    func currentSession(_ key: PublicKey) -> Session? { state.withLock { $0.sessions[key] } }

    /// Adds a new connection to the table; when the node is stopped or paused, or a dial finds the peer already
    /// connected, returns why not (the caller closes it).
    func admit(_ channel: any Channel, dialing peer: PublicKey? = nil) -> P2PError? {
        let admitted = state.withLock { s in
            guard !s.stopped, !s.paused, peer.map({ s.sessions[$0] == nil }) ?? true else { return false }
            s.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        guard admitted else {
            let remote = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" }
            return P2PError(.refused, "this node is stopped or disconnected, or already has the session", peer: peer, address: remote)
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        return nil
    }

    /// Makes an authenticated session the peer's, or says why not. Of two sessions with one peer, the one dialed
    /// by the smaller key stays: both ends decide alike. Of two dialed by the same side, the newer stays (the
    /// dialer only redials once it lost the older).
    func register(_ session: Session) -> P2PError? {
        let peer = session.peer
        let outcome: Result<Session?, P2PError> = state.withLock { s in
            if s.stopped || s.paused {
                return .failure(P2PError(.refused, "this node is stopped or disconnected", peer: peer))
            }
            if session.dialedByUs, s.dialed[peer] == nil {
                return .failure(P2PError(.refused, "this node no longer dials the peer", peer: peer))
            }
            guard let existing = s.sessions[peer] else {
                s.sessions[peer] = session
                return .success(nil)
            }
            let smallerDialsIsUs = config.key.publicKey < peer
            if existing.dialedByUs == smallerDialsIsUs, session.dialedByUs != smallerDialsIsUs {
                return .failure(P2PError(.duplicateSession, "a session dialed by the smaller key exists; closing this one", peer: peer))
            }
            s.sessions[peer] = session
            return .success(existing)
        }
        switch outcome {
        case .failure(let refusal):
            return refusal
        case .success(let replaced?):
            replaced.close()
        case .success(nil):
            onPeer(peer, true)
        }
        return nil
    }

    /// Removes `session` if it is still its peer's.
    func unregister(_ session: Session) {
        let removed = state.withLock { s in
            guard s.sessions[session.peer] === session else { return false }
            s.sessions[session.peer] = nil
            return true
        }
        if removed { onPeer(session.peer, false) }
    }

    // MARK: Dialing

    func addPeer(_ key: PublicKey, host: String, port: Int) {
        guard key != config.key.publicKey else { return }
        state.withLock { s in
            guard !s.stopped else { return }
            s.dialed[key]?.task?.cancel()
            s.dialed[key] = Dial(host: host, port: port, task: s.paused ? nil : maintainTask(key, host, port))
        }
    }

    func forget(_ key: PublicKey) {
        let session = state.withLock { s in
            s.dialed.removeValue(forKey: key)?.task?.cancel()
            return s.sessions[key]
        }
        session?.close()
    }

    /// Stops dialing, empties the session table at once and closes every connection; with `stopping`, for good.
    /// Returns the dialers and connections to wait for.
    func closeAll(stopping: Bool) -> (dialers: [Task<Void, Never>], connections: [any Channel]) {
        let (dialers, connections, dropped) = state.withLock { s in
            if stopping { s.stopped = true } else { s.paused = true }
            var dialers: [Task<Void, Never>] = []
            for key in s.dialed.keys {
                if let task = s.dialed[key]?.task { dialers.append(task) }
                s.dialed[key]?.task = nil
            }
            let dropped = s.sessions.keys.sorted()
            s.sessions = [:]
            return (dialers, Array(s.connections.values), dropped)
        }
        for dialer in dialers { dialer.cancel() }
        for connection in connections { connection.close(promise: nil) }
        for peer in dropped { onPeer(peer, false) }
        return (dialers, connections)
    }

    func resume() {
        state.withLock { s in
            guard !s.stopped, s.paused else { return }
            s.paused = false
            for (key, dial) in s.dialed {
                s.dialed[key]?.task = maintainTask(key, dial.host, dial.port)
            }
        }
    }

    private func maintainTask(_ key: PublicKey, _ host: String, _ port: Int) -> Task<Void, Never> {
        Task { await maintain(key, host: host, port: port) }
    }

    /// Keeps a session with `key` until cancelled: waits while one exists (whoever dialed it), dials when none
    /// does, and after a failure or a short-lived session waits ``P2PLimits/firstRedial`` doubling to
    /// ``P2PLimits/maxRedial``. Only the first of a run of failed dials is logged.
    private func maintain(_ key: PublicKey, host: String, port: Int) async {
        var backoff = P2PLimits.firstRedial
        var failing = false
        while !Task.isCancelled {
            if let session = currentSession(key) {
                try? await session.channel.closeFuture.get()
                unregister(session)
                if ContinuousClock.now - session.opened >= P2PLimits.stableSession { backoff = P2PLimits.firstRedial }
                failing = false
            } else {
                do throws(P2PError) {
                    try await dial(key, host: host, port: port)
                    continue
                } catch {
                    if !failing, error.code == .unreachable { config.log(error) }
                    failing = true
                }
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, P2PLimits.maxRedial)
        }
    }

    /// Connects to host:port and runs the handshake expecting `key`; returns once the session is registered.
    private func dial(_ key: PublicKey, host: String, port: Int) async throws(P2PError) {
        let established: EventLoopFuture<Void>
        do {
            established = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(config.handshakeTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let refusal = admit(channel, dialing: key) { throw refusal }
                        let promise = channel.eventLoop.makePromise(of: Void.self)
                        try channel.pipeline.syncOperations.addHandler(
                            SessionHandler(peers: self, expected: key, established: promise))
                        return promise.futureResult
                    }
                }
        } catch let error as P2PError {
            throw error
        } catch {
            throw P2PError(.unreachable, "cannot connect: \(error)", peer: key, address: "\(host):\(port)")
        }
        do {
            try await established.get()
        } catch let error as P2PError {
            throw error
        } catch {
            throw P2PError(.connectionError, "\(error)", peer: key, address: "\(host):\(port)")
        }
    }
}
