/// Which MLLP connections the listener serves: at most ``maxConnections`` at once, and at most
/// ``maxConnectionsPerPeer`` from one source address, so that one sender (or one attacker) cannot take every slot.
/// Refusals are counted and reported at a bounded rate: the first at once, then one summary per ``reportInterval``
/// (a flood of connections costs a log line per interval, not one per connection).
///
/// No I/O: times are durations on one monotonic clock, from any origin; the listener logs the lines it returns.
struct MLLPAdmission: Sendable {
    enum Decision: Sendable, Equatable {
        case admit
        /// Close the connection; log `report` when there is one.
        case refuse(report: String?)
    }

    let maxConnections: Int
    let maxConnectionsPerPeer: Int
    let reportInterval: Duration
    private var open = 0
    private var openByPeer: [String: Int] = [:]
    /// Refusals since the last report, and by which limit and peer.
    private var refusedAtTotal = 0
    private var refusedAtPeer = 0
    private var refusedByPeer: [String: Int] = [:]
    private var lastReport: Duration?
    /// Every connection refused since the listener started.
    private(set) var refusedConnections = 0

    init(maxConnections: Int, maxConnectionsPerPeer: Int, reportInterval: Duration) {
        precondition(maxConnections >= 1 && maxConnectionsPerPeer >= 1, "MLLP connection limits are at least 1")
        self.maxConnections = maxConnections
        self.maxConnectionsPerPeer = maxConnectionsPerPeer
        self.reportInterval = reportInterval
    }

    /// The connections open now, in all and from `peer`.
    var openConnections: Int { open }
    func openConnections(from peer: String) -> Int { openByPeer[peer, default: 0] }

    /// A connection from `peer` arrived at `now`: serve it, or refuse it (and perhaps report).
    mutating func arrive(from peer: String, at now: Duration) -> Decision {
        let fromPeer = openByPeer[peer, default: 0]
        if open < maxConnections, fromPeer < maxConnectionsPerPeer {
            open += 1
            openByPeer[peer] = fromPeer + 1
            return .admit
        }
        let atTotal = open >= maxConnections
        refusedConnections += 1
        if lastReport == nil || now - (lastReport ?? now) >= reportInterval {
            // The first refusal of an interval is reported at once, with any count not yet reported.
            let earlier = pendingSummary()
            lastReport = now
            let why = atTotal
                ? "--max-connections \(maxConnections) reached"
                : "--max-connections-per-peer \(maxConnectionsPerPeer) reached for this address"
            var line = "mllp: refused a connection from \(peer): \(why)"
            if let earlier { line += "; before it, \(earlier)" }
            line += "; further refusals are counted and reported every \(Self.seconds(reportInterval))"
            return .refuse(report: line)
        }
        if atTotal { refusedAtTotal += 1 } else { refusedAtPeer += 1 }
        refusedByPeer[peer, default: 0] += 1
        return .refuse(report: nil)
    }

    /// A served connection from `peer` closed.
    mutating func leave(from peer: String) {
        let fromPeer = openByPeer[peer, default: 0]
        precondition(open > 0 && fromPeer > 0, "an MLLP connection closed that was not admitted")
        open -= 1
        openByPeer[peer] = fromPeer == 1 ? nil : fromPeer - 1
    }

    /// The summary of refusals not yet reported, when the interval since the last report has passed (or `final`,
    /// when the listener stops); nil when there is nothing to report yet.
    mutating func report(at now: Duration, final: Bool = false) -> String? {
        guard refusedAtTotal + refusedAtPeer > 0 else { return nil }
        if !final, let lastReport, now - lastReport < reportInterval { return nil }
        guard let summary = pendingSummary() else { return nil }
        let since = lastReport.map { " in the last \(Self.seconds(now - $0))" } ?? ""
        lastReport = now
        return "mllp: \(summary)\(since)"
    }

    /// "refused N connections (…)", resetting the counts; nil when there were none.
    private mutating func pendingSummary() -> String? {
        let total = refusedAtTotal + refusedAtPeer
        guard total > 0 else { return nil }
        var parts: [String] = []
        if refusedAtTotal > 0 { parts.append("\(refusedAtTotal) at --max-connections \(maxConnections)") }
        if refusedAtPeer > 0 { parts.append("\(refusedAtPeer) at --max-connections-per-peer \(maxConnectionsPerPeer)") }
        let top = refusedByPeer.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }
        if let top, refusedByPeer.count > 1 {
            parts.append("most from \(top.key) (\(top.value)) of \(refusedByPeer.count) addresses")
        } else if let top {
            parts.append("all from \(top.key)")
        }
        refusedAtTotal = 0
        refusedAtPeer = 0
        refusedByPeer = [:]
        return "refused \(total) connection\(total == 1 ? "" : "s") (\(parts.joined(separator: ", ")))"
    }

    static func seconds(_ duration: Duration) -> String {
        let (s, attoseconds) = duration.components
        let tenths = attoseconds / 100_000_000_000_000_000
        return tenths == 0 ? "\(s) s" : "\(s).\(tenths) s"
    }
}
