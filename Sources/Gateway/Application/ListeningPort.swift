import Synchronization

/// The port a gateway is listening on, known once the socket is bound: with `--listen HOST:0` the system picks it,
/// and the token URL the gateway advertises and checks `aud` against must name that port, not `0`.
public final class ListeningPort: Sendable {
    private let value = Mutex<Int?>(nil)

    public init() {}

    /// The bound port; nil until the gateway listens.
    public var port: Int? { value.withLock { $0 } }

    /// Records the bound port (the application does it as the socket is bound).
    func bound(_ port: Int) {
        value.withLock { $0 = port }
    }
}
