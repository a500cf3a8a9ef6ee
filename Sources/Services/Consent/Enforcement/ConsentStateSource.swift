public import Ledger
public import Node
import Synchronization

/// The ledger state a consent decision is taken on: the state the last finalized block commits to, with that
/// block's height and time (the decision's time, never a wall clock).
public struct FinalizedConsentState: Sendable {
    public let height: UInt64
    /// The block time, milliseconds since the epoch.
    public let time: Int64
    public let state: LedgerState

    public init(height: UInt64, time: Int64, state: LedgerState) {
        self.height = height
        self.time = time
        self.state = state
    }
}

/// Where the gateway reads the finalized consent state from. Two shapes: the node running in the same process
/// (`node start --http`), or a read-only view of a node's block store (`careledger serve --home`), which picks up
/// the blocks the node appends.
public protocol ConsentStateSource: Sendable {
    /// The state at the last finalized height, or nil while the chain has no block.
    func finalized() async throws -> FinalizedConsentState?
}

/// A ``Chain`` as the consent state source. A read-only view (`refreshing`) re-reads the block store at most once
/// per `refreshInterval`, so a burst of requests costs one file check, not one each.
public final class ChainConsentState: ConsentStateSource {
    let chain: Chain
    let refreshInterval: Duration?
    private let lastRefresh = Mutex<ContinuousClock.Instant?>(nil)

    /// - Parameter refreshInterval: nil for the chain the node itself drives (always current); a bound for a
    ///   read-only view of another process's block store.
    public init(chain: Chain, refreshInterval: Duration? = nil) {
        self.chain = chain
        self.refreshInterval = refreshInterval
    }

    public func finalized() async throws -> FinalizedConsentState? {
        if let refreshInterval {
            let now = ContinuousClock.now
            let due = lastRefresh.withLock { last -> Bool in
                if let last, last.duration(to: now) < refreshInterval { return false }
                last = now
                return true
            }
            if due { try await chain.refresh() }
        }
        guard let tip = await chain.provableTip else { return nil }
        let header = tip.block.block.header
        return FinalizedConsentState(height: header.height, time: header.time, state: tip.state)
    }
}

/// The consent state of the node whose home a separate gateway process (`careledger serve --home`) shares: a
/// read-only view of its block store, opened on first use (the node may start after the gateway) and refreshed
/// at most once per `refreshInterval`.
public actor NodeHomeConsentState: ConsentStateSource {
    let home: NodeHome
    let refreshInterval: Duration
    private var view: ChainConsentState?

    public init(home: NodeHome, refreshInterval: Duration = .milliseconds(200)) {
        self.home = home
        self.refreshInterval = refreshInterval
    }

    public func finalized() async throws -> FinalizedConsentState? {
        if view == nil {
            let chain: Chain
            do {
                chain = try await home.openChain()
            } catch {
                // No block store yet: no finalized block, so nothing can be decided yet.
                return nil
            }
            view = ChainConsentState(chain: chain, refreshInterval: refreshInterval)
        }
        return try await view?.finalized()
    }
}
