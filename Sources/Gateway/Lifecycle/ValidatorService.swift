import Node
import ServiceLifecycle

/// The running validator (``NodeService``: block production or consensus, anchoring) as a swift-service-lifecycle
/// `Service`: it runs until graceful shutdown (or cancellation), then stops the node cleanly (tasks ended, consensus
/// WAL and block store closed, `data/rpc.json` removed).
struct ValidatorService: Service {
    let node: NodeService

    func run() async throws {
        // Returns on graceful shutdown; throws CancellationError when the group is cancelled. Either way: stop.
        try? await gracefulShutdown()
        await node.stop()
    }
}
