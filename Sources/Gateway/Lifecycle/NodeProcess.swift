public import Node
public import ServiceLifecycle
import Logging
import UnixSignals

/// `careledger node start` as one swift-service-lifecycle `ServiceGroup`: the validator first, then the HTTP
/// applications that serve it (the loopback RPC, and the FHIR gateway with `--http`). SIGTERM or SIGINT starts a
/// graceful shutdown, in reverse order: the HTTP servers stop accepting and finish the requests in flight, then
/// the node stops. Whatever is still running after `gracePeriod` is cancelled.
public struct NodeProcess: Sendable {
    private let group: ServiceGroup

    /// - Parameters:
    ///   - applications: The HTTP applications, e.g. `[LoopbackRPC.application(for: node)]`; one more server is
    ///     one more element.
    ///   - signals: Whether SIGTERM and SIGINT shut the group down (false in tests, which call ``shutdown()``).
    public init(node: NodeService, applications: [any Service], signals: Bool = true,
                gracePeriod: Duration = RPCLimits.shutdownGracePeriod) {
        self.init(services: [ValidatorService(node: node)] + applications, signals: signals, gracePeriod: gracePeriod)
    }

    /// Any services, started in order and shut down in reverse order (tests run a lone RPC server this way).
    public init(services: [any Service], signals: Bool = true, gracePeriod: Duration = RPCLimits.shutdownGracePeriod) {
        var logger = Logger(label: "careledger.node")
        logger.logLevel = .warning
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [],
            logger: logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod
        group = ServiceGroup(configuration: configuration)
    }

    /// Runs until a signal (or ``shutdown()``) and the graceful shutdown that follows; throws when a service
    /// fails (e.g. the RPC port cannot be bound), after the others were stopped.
    public func run() async throws {
        try await group.run()
    }

    /// Starts the graceful shutdown, as SIGTERM does.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }
}
