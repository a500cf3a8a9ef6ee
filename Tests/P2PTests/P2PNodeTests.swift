import Ledger
import Testing
import TestSupport
@testable import P2P

/// P2P nodes over real loopback sockets, every listener on port 0.
@Suite(.timeLimit(.minutes(5))) struct P2PNetwork {
    @Test func threeNodesConnectPairwiseAndDeliverAThousandMessagesEachWayInOrder() async throws {
        let k = try keys(3)
        let nodes = try await [0, 1, 2].asyncMap { try await TestNode.start(k[$0], allowed: k) }
        let (a, b, c) = (nodes[0], nodes[1], nodes[2])
        a.dial(b)
        a.dial(c)
        b.dial(c)
        for node in nodes {
            let others = nodes.map(\.id).filter { $0 != node.id }.sorted()
            #expect(await eventually { node.node.connectedPeers == others }, "\(node.id)")
        }
        #expect(a.seen.peerEvents(b.id) == [true])
        #expect(c.seen.peerEvents(b.id) == [true])

        // Per sender and receiver: 1,000 messages of 0…4,095 bytes, number 500 being 1 MiB, each tagged with its index.
        func script(_ from: TestNode, _ to: TestNode) -> [[UInt8]] {
            var random = SplitMix64(seed: UInt64(from.id.bytes[0]) << 8 | UInt64(to.id.bytes[0]))
            return (0..<1000).map { i in
                withUnsafeBytes(of: UInt32(i).bigEndian, Array.init) + random.bytes(i == 500 ? 1 << 20 : random.below(4096))
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for from in nodes {
                group.addTask {
                    for to in nodes where to.id != from.id {
                        for message in script(from, to) { #expect(from.node.send(message, to: to.id)) }
                    }
                }
            }
        }
        for from in nodes {
            for to in nodes where to.id != from.id {
                let expected = script(from, to)
                #expect(await eventually { to.seen.messages(from: from.id).count >= expected.count })
                #expect(to.seen.messages(from: from.id) == expected, "\(from.id) → \(to.id)")
            }
        }
        #expect(a.node.send([1], to: try SigningKey(seed: [UInt8](repeating: 9, count: 32)).publicKey) == false)
        for node in nodes { try await node.node.stop() }
        #expect(a.node.connectedPeers.isEmpty)
    }

    @Test func aNodeWhoseKeyIsNotAllowedIsRefused() async throws {
        let k = try keys(3)
        let (a, b) = (try await TestNode.start(k[0], allowed: [k[0], k[1]]), try await TestNode.start(k[1], allowed: [k[0], k[1]]))
        let intruder = try await TestNode.start(k[2], allowed: k)
        intruder.dial(a)
        intruder.dial(b)
        #expect(await eventually { a.seen.logged(.notAllowed, peer: intruder.id) && b.seen.logged(.notAllowed, peer: intruder.id) })
        _ = intruder.node.send(Array("let me in".utf8), to: a.id)
        try await Task.sleep(for: .milliseconds(300))
        #expect(a.node.connectedPeers.isEmpty)
        #expect(b.node.connectedPeers.isEmpty)
        #expect(a.seen.peerEvents(intruder.id).isEmpty)
        #expect(a.seen.messages(from: intruder.id).isEmpty)
        for node in [a, b, intruder] { try await node.node.stop() }
    }

    @Test func aPeerProvingAnotherKeyThanTheOneDialedIsRefused() async throws {
        let k = try keys(3)
        let a = try await TestNode.start(k[0], allowed: k)
        let b = try await TestNode.start(k[1], allowed: k)
        a.node.addPeer(k[2].publicKey, host: "127.0.0.1", port: b.node.port)  // b listens there, not c
        #expect(await eventually { a.seen.logged(.unexpectedPeer, peer: b.id) })
        #expect(a.node.connectedPeers.isEmpty)
        #expect(a.seen.peerEvents(b.id).isEmpty)
        #expect(a.seen.peerEvents(k[2].publicKey).isEmpty)
        for node in [a, b] { try await node.node.stop() }
    }

    @Test func aFlippedBitMakesTheReceiverCloseAndTheDialerReconnectsThroughACleanPath() async throws {
        let k = try keys(2)
        let a = try await TestNode.start(k[0], allowed: k)
        let b = try await TestNode.start(k[1], allowed: k)
        // The fifth ciphertext byte of a's first message, after the hello and authentication frames.
        let offset = P2PLimits.helloFrameBytes + P2PLimits.authenticationFrameBytes + P2PLimits.headerBytes + 4
        let proxy = try await Proxy.start(target: b.node.port, fault: .flipBit(at: offset))
        a.node.addPeer(b.id, host: "127.0.0.1", port: proxy.port)
        #expect(await eventually { a.node.connectedPeers == [b.id] && b.node.connectedPeers == [a.id] })

        #expect(a.node.send(Array("tampered in transit".utf8), to: b.id))
        #expect(await eventually { b.seen.logged(.tamperedFrame, peer: a.id) })
        #expect(await eventually { b.seen.peerEvents(a.id) == [true, false, true] && a.node.connectedPeers == [b.id] })
        #expect(a.node.send(Array("clean".utf8), to: b.id))
        #expect(await eventually { b.seen.messages(from: a.id).count == 1 })
        #expect(b.seen.messages(from: a.id) == [Array("clean".utf8)])
        #expect(a.seen.peerEvents(b.id) == [true, false, true])
        for node in [a, b] { try await node.node.stop() }
        await proxy.stop()
    }

    @Test func aFrameLongerThanMaxFrameBytesClosesTheConnection() async throws {
        let k = try keys(2)
        let a = try await TestNode.start(k[0], allowed: k) { $0.maxFrameBytes = 8 << 20 }
        let b = try await TestNode.start(k[1], allowed: k) { $0.maxFrameBytes = 1 << 20 }
        a.dial(b)
        #expect(await eventually { a.node.connectedPeers == [b.id] && b.node.connectedPeers == [a.id] })
        #expect(b.node.send([UInt8](repeating: 1, count: (1 << 20) + 1), to: a.id) == false)  // over b's own limit

        #expect(a.node.send([UInt8](repeating: 2, count: 2 << 20), to: b.id))
        #expect(await eventually { b.seen.logged(.frameTooLarge, peer: a.id) })
        #expect(await eventually { a.seen.peerEvents(b.id) == [true, false, true] && a.node.connectedPeers == [b.id] })
        #expect(a.node.send([3], to: b.id))
        #expect(await eventually { b.seen.messages(from: a.id).count == 1 })
        #expect(b.seen.messages(from: a.id) == [[3]])
        for node in [a, b] { try await node.node.stop() }
    }

    @Test func aPeerThatStopsReadingIsDroppedWithoutStallingTheOthers() async throws {
        let k = try keys(3)
        let a = try await TestNode.start(k[0], allowed: k) { $0.maxBufferedBytes = 2 << 20 }
        let b = try await TestNode.start(k[1], allowed: k)
        let c = try await TestNode.start(k[2], allowed: k)
        let proxy = try await Proxy.start(target: b.node.port, fault: .stall(after: P2PLimits.helloFrameBytes + P2PLimits.authenticationFrameBytes))
        a.node.addPeer(b.id, host: "127.0.0.1", port: proxy.port)
        a.dial(c)
        #expect(await eventually { a.node.connectedPeers == [b.id, c.id].sorted() })

        // The same 16 KiB messages to both, waiting for c to take every 32nd batch (512 KiB, under the bound): b's
        // path fills its socket buffers, then a's queue for b passes 2 MiB while c's never does.
        var toC: [[UInt8]] = []
        var refusedByB = false
        for i in 0..<3000 where !refusedByB {
            let message = withUnsafeBytes(of: UInt32(i).bigEndian, Array.init) + [UInt8](repeating: UInt8(i & 0xFF), count: 16 << 10)
            refusedByB = !a.node.send(message, to: b.id)
            #expect(a.node.send(message, to: c.id))
            toC.append(message)
            if toC.count % 32 == 0 { #expect(await eventually { c.seen.messages(from: a.id).count == toC.count }) }
        }
        #expect(refusedByB)
        #expect(a.seen.logged(.slowPeer, peer: b.id))
        #expect(await eventually { c.seen.messages(from: a.id).count == toC.count })
        #expect(c.seen.messages(from: a.id) == toC)
        // Nothing reached b through the stalled connection. On a loaded machine the redial (through the proxy's
        // clean path) can finish before the loop ends, and b then gets later messages: only whole, genuine ones.
        let early = b.seen.messages(from: a.id)
        #expect(early.allSatisfy { toC.contains($0) }, "b got \(early.count) messages, not all sent by a")

        // The redial goes through the proxy's clean path.
        #expect(await eventually { a.seen.peerEvents(b.id) == [true, false, true] && a.node.connectedPeers.contains(b.id) })
        #expect(a.node.send([7], to: b.id))
        #expect(await eventually { b.seen.messages(from: a.id).last == [7] })
        for node in [a, b, c] { try await node.node.stop() }
        await proxy.stop()
    }

    @Test func aSilentOrOversizedFirstFrameIsClosed() async throws {
        let k = try keys(1)
        let a = try await TestNode.start(k[0], allowed: k) { $0.handshakeTimeout = .milliseconds(200) }
        let silent = try await readUntilClosed(port: a.node.port, sending: [], within: .seconds(30))
        #expect(silent.closed)
        #expect(silent.bytes.count == P2PLimits.helloFrameBytes)
        #expect(silent.bytes.prefix(4) == [0, 0, 0, 32])
        #expect(await eventually { a.seen.logs.map(\.code) == [.handshakeTimeout] })

        try await a.node.stop()

        // A node with a long handshake timeout, so that on a loaded machine the oversized length, not the clock,
        // is what closes the connection.
        let b = try await TestNode.start(k[0], allowed: k) { $0.handshakeTimeout = .seconds(60) }
        let oversized = try await readUntilClosed(port: b.node.port, sending: [0xFF, 0xFF, 0xFF, 0xFF], within: .seconds(30))
        #expect(oversized.closed)
        #expect(await eventually { b.seen.logs.map(\.code) == [.frameTooLarge] })
        try await b.node.stop()
    }

    @Test func aNodeRestartedOnTheSamePortIsRedialedAndMessagesFlowAgain() async throws {
        let k = try keys(3)
        let a = try await TestNode.start(k[0], allowed: k)
        let b = try await TestNode.start(k[1], allowed: k)
        let c = try await TestNode.start(k[2], allowed: k)
        a.dial(b)
        c.dial(b)
        #expect(await eventually { b.node.connectedPeers == [a.id, c.id].sorted() })

        let port = b.node.port
        try await b.node.stop()
        #expect(await eventually { a.node.connectedPeers.isEmpty && c.node.connectedPeers.isEmpty })
        let restarted = try await TestNode.start(k[1], allowed: k, port: port)
        #expect(restarted.node.port == port)
        #expect(await eventually { restarted.node.connectedPeers == [a.id, c.id].sorted() })
        #expect(await eventually { a.node.connectedPeers == [b.id] })

        #expect(a.node.send(Array("after restart".utf8), to: b.id))
        #expect(restarted.node.send(Array("back".utf8), to: c.id))
        #expect(await eventually { restarted.seen.messages(from: a.id).count == 1 && c.seen.messages(from: b.id).count == 1 })
        #expect(restarted.seen.messages(from: a.id) == [Array("after restart".utf8)])
        #expect(c.seen.messages(from: b.id) == [Array("back".utf8)])
        for node in [a, c, restarted] { try await node.node.stop() }
    }

    @Test func disconnectAllCutsEverySessionUntilReconnect() async throws {
        let k = try keys(3)
        let a = try await TestNode.start(k[0], allowed: k)
        let b = try await TestNode.start(k[1], allowed: k)
        let c = try await TestNode.start(k[2], allowed: k)
        a.dial(b)
        a.dial(c)
        b.dial(c)
        c.dial(a)  // keeps knocking while a is cut off
        #expect(await eventually { a.node.connectedPeers.count == 2 && b.node.connectedPeers.count == 2 && c.node.connectedPeers.count == 2 })

        a.node.disconnectAll()
        #expect(a.node.connectedPeers.isEmpty)
        #expect(await eventually { b.node.connectedPeers == [c.id] && c.node.connectedPeers == [b.id] })
        #expect(await eventually { a.seen.logs.contains { $0.code == .refused } })
        try await Task.sleep(for: .milliseconds(500))
        #expect(a.node.connectedPeers.isEmpty)
        #expect(b.node.connectedPeers == [c.id])
        #expect(a.node.send([1], to: b.id) == false)

        a.node.reconnect()
        #expect(await eventually { a.node.connectedPeers == [b.id, c.id].sorted() })
        #expect(await eventually { b.node.connectedPeers == [a.id, c.id].sorted() && c.node.connectedPeers == [a.id, b.id].sorted() })
        // a and c both dial: wait until a duplicate, if their dials crossed, is gone (its messages could be lost).
        #expect(await eventually { [a, b, c].allSatisfy { $0.node.peers.connectionCount == 2 } })
        #expect(a.node.send([4], to: b.id))
        #expect(c.node.send([5], to: a.id))
        #expect(await eventually { b.seen.messages(from: a.id) == [[4]] && a.seen.messages(from: c.id) == [[5]] })
        for node in [a, b, c] { try await node.node.stop() }
    }

    @Test func simultaneousDialingLeavesOneSessionPerPairThatBothEndsKeep() async throws {
        let k = try keys(3)
        let nodes = try await [0, 1, 2].asyncMap { try await TestNode.start(k[$0], allowed: k) }
        for node in nodes {
            for other in nodes where other.id != node.id { node.dial(other) }
        }
        for node in nodes {
            #expect(await eventually { node.node.connectedPeers.count == 2 && node.node.peers.connectionCount == 2 })
        }
        try await Task.sleep(for: .milliseconds(300))
        // Both ends of a pair keep the same session: one end dialed it. When the crossing dials both complete, the
        // one dialed by the smaller key stays; when one of them failed first (a handshake timeout on a loaded
        // machine), the other is the pair's only session, whoever dialed it.
        for node in nodes {
            #expect(node.node.peers.connectionCount == 2)
            for other in nodes where other.id != node.id {
                let here = try #require(node.node.peers.currentSession(other.id))
                let there = try #require(other.node.peers.currentSession(node.id))
                #expect(here.dialedByUs != there.dialedByUs, "\(node.id) and \(other.id) keep different sessions")
                #expect(node.node.send(node.id.bytes, to: other.id))
            }
        }
        for node in nodes {
            for other in nodes where other.id != node.id {
                #expect(await eventually { node.seen.messages(from: other.id) == [other.id.bytes] })
            }
        }
        for node in nodes { try await node.node.stop() }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
