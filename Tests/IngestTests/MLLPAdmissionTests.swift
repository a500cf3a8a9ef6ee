import Testing
@testable import Ingest

/// Which MLLP connections are served, without sockets: a cap per source address as well as overall, and refusals
/// counted and logged at a bounded rate (issue 16 item 8). Times are injected.
@Suite struct MLLPAdmissionTests {
    static func admission(max: Int = 3, perPeer: Int = 2) -> MLLPAdmission {
        MLLPAdmission(maxConnections: max, maxConnectionsPerPeer: perPeer, reportInterval: .seconds(10))
    }

    @Test func oneAddressCannotTakeEverySlot() {
        var admission = Self.admission()
        #expect(admission.arrive(from: "10.0.0.1", at: .zero) == .admit)
        #expect(admission.arrive(from: "10.0.0.1", at: .zero) == .admit)
        // The third from the same address is refused although a slot is free, and the first refusal is logged.
        guard case .refuse(let report?) = admission.arrive(from: "10.0.0.1", at: .seconds(1)) else {
            Issue.record("a third connection from one address was not refused with a report"); return
        }
        #expect(report.contains("from 10.0.0.1: --max-connections-per-peer 2 reached for this address"))
        #expect(admission.arrive(from: "10.0.0.2", at: .seconds(1)) == .admit)
        #expect(admission.openConnections == 3)
        // Now the total is reached: another address is refused too, quietly (within the report interval).
        #expect(admission.arrive(from: "10.0.0.3", at: .seconds(2)) == .refuse(report: nil))
        admission.leave(from: "10.0.0.1")
        #expect(admission.openConnections(from: "10.0.0.1") == 1)
        #expect(admission.arrive(from: "10.0.0.3", at: .seconds(3)) == .admit)
    }

    /// 10,000 refusals in one interval cost one line at once and one summary line per interval, with the count.
    @Test func refusalsAreCountedAndReportedAtABoundedRate() {
        var admission = Self.admission(max: 1, perPeer: 1)
        #expect(admission.arrive(from: "10.0.0.1", at: .zero) == .admit)
        var lines: [String] = []
        for k in 0..<10_000 {
            let now = Duration.milliseconds(k)   // all within 10 s
            if case .refuse(let report) = admission.arrive(from: k % 2 == 0 ? "10.0.0.1" : "10.0.0.\(2 + k % 5)", at: now) {
                if let report { lines.append(report) }
            } else {
                Issue.record("connection \(k) was admitted")
            }
            if let summary = admission.report(at: now) { lines.append(summary) }
        }
        #expect(lines.count == 1)
        #expect(admission.refusedConnections == 10_000)
        #expect(admission.report(at: .milliseconds(9_999)) == nil)
        let summary = admission.report(at: .seconds(10))
        #expect(summary == "mllp: refused 9999 connections (9999 at --max-connections 1, most from 10.0.0.1 (4999) of 6 addresses) in the last 10 s")
        #expect(admission.report(at: .seconds(30)) == nil, "nothing new to report")
        // The next refusal after a quiet interval is reported at once again.
        guard case .refuse(let again?) = admission.arrive(from: "10.0.0.9", at: .seconds(31)) else {
            Issue.record("the refusal after a quiet interval was not reported"); return
        }
        #expect(again.hasPrefix("mllp: refused a connection from 10.0.0.9: --max-connections 1 reached"))
    }

    @Test func theLastRefusalsAreReportedWhenTheListenerStops() {
        var admission = Self.admission(max: 1, perPeer: 1)
        #expect(admission.arrive(from: "10.0.0.1", at: .zero) == .admit)
        _ = admission.arrive(from: "10.0.0.2", at: .seconds(1))
        _ = admission.arrive(from: "10.0.0.2", at: .seconds(2))
        _ = admission.arrive(from: "10.0.0.2", at: .seconds(3))
        #expect(admission.report(at: .seconds(4)) == nil)
        #expect(admission.report(at: .seconds(4), final: true) == "mllp: refused 2 connections (2 at --max-connections 1, all from 10.0.0.2) in the last 3 s")
    }
}
