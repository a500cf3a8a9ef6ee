import FHIRCore
import Foundation
import HL7v2
import Ingest
import Mapping
import NIOCore
import NIOPosix
import RecordStore
import Testing
import TestSupport

/// The live feed end to end: real sockets, a real store (SQLite and PostgreSQL), the shipped mappings.
@Suite(.timeLimit(.minutes(5)))
struct MLLPServerTests {
    static let samples = Repository.root.appendingPathComponent("Samples/hl7v2")
    static let corpus = Repository.shared.appendingPathComponent("corpus/hl7v2")

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    /// A client connection: sends bytes, reads framed ACKs (one inbound iterator for its whole life). Used by one
    /// task at a time.
    final class Client: @unchecked Sendable {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        var framer = MLLPFramer()
        var pending: [HL7Message] = []

        init(port: Int) async throws {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            self.channel = channel
            iterator = channel.inbound.makeAsyncIterator()
        }

        func send(_ bytes: [UInt8]) async throws {
            try await channel.channel.writeAndFlush(ByteBuffer(bytes: bytes))
        }

        /// Sends each message framed and reads one ACK per message.
        func exchange(_ messages: [[UInt8]]) async throws -> [HL7Message] {
            for m in messages { try await send(MLLPFramer.frame(m)) }
            return try await acks(messages.count)
        }

        func acks(_ count: Int) async throws -> [HL7Message] {
            while pending.count < count {
                guard let buffer = try await iterator.next() else { break }
                framer.append(buffer.readableBytesView)
                while let event = framer.next() {
                    if case .frame(let payload) = event { pending.append(try HL7Message.parse(payload)) }
                }
            }
            let out = Array(pending.prefix(count))
            pending.removeFirst(out.count)
            return out
        }

        func close() async { try? await channel.channel.close() }
    }

    static func withServer(_ kind: StoreKind, maxMessageBytes: Int = 4 << 20,
                           _ body: (MLLPServer, any RecordStore) async throws -> Void) async throws {
        try await kind.withStore { store, _ in
            var importer = Importer(store: store, source: "mllp")
            importer.hl7 = HL7Converter(mappings: try HL7MappingSet.load(directory: Repository.root.appendingPathComponent("Mappings/hl7v2").path))
            let server = try await MLLPServer.start(importer: importer, settings: .init(port: 0, maxMessageBytes: maxMessageBytes))
            do {
                try await body(server, store)
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }
    }

    @Test(arguments: StoreKind.allCases)
    func messagesAreAcknowledgedAfterStoringAndDuplicatesAreNotStoredTwice(kind: StoreKind) async throws {
        try await Self.withServer(kind) { server, store in
            let admit = try Self.bytes(Self.samples.appendingPathComponent("adt-a01-admit.hl7"))
            let lab = try Self.bytes(Self.samples.appendingPathComponent("oru-r01-lab.hl7"))
            let client = try await Client(port: server.port)
            let acks = try await client.exchange([admit, lab])
            #expect(acks.map { try? $0.string(at: "MSA-1") } == ["AA", "AA"])
            #expect(acks.map { try? $0.string(at: "MSA-2") } == ["NG-ADT-0001", "NG-LAB-5531"])
            #expect(acks.map(\.messageType) == ["ACK", "ACK"])
            #expect(acks.map(\.triggerEvent) == ["A01", "R01"])
            // Acknowledged means stored: the store already has the patient and the results.
            let patients = try await store.resolveIdentifier(type: "Patient", system: nil, value: "NG-4471")
            #expect(patients.count == 1)
            let versions = try await store.versionCount()
            #expect(versions > 10)
            // The same message again (a resend after a lost ACK): AA, and nothing stored twice.
            let again = try await client.exchange([admit])
            #expect(try again.first?.string(at: "MSA-1") == "AA")
            #expect(try again.first?.string(at: "MSA-3")?.contains("duplicate") == true)
            #expect(try await store.versionCount() == versions)
            await client.close()
        }
    }

    @Test func badMessagesGetAEOrARWithAnERRAndADeadLetter() async throws {
        try await Self.withServer(.sqlite) { server, store in
            let notNumeric = try Self.bytes(Self.corpus.appendingPathComponent("malformed/cdc-ti-orm_obx-5_is_not_a_numeric_value.hl7"))
            let unsupported = Array("MSH|^~\\&|A|B|||20240101||ADT^A17|U1|P|2.5\rEVN|A17\r".utf8)
            let notHL7 = Array("this is not HL7".utf8)
            let client = try await Client(port: server.port)
            let acks = try await client.exchange([notNumeric, unsupported, notHL7])
            #expect(acks.map { try? $0.string(at: "MSA-1") } == ["AE", "AR", "AR"])
            #expect(try acks[0].string(at: "MSA-2") == "111111")
            #expect(try acks[0].string(at: "ERR-3") == "102")
            #expect(try acks[0].string(at: "ERR-2") == "OBX")
            #expect(try acks[0].string(at: "ERR-2.3") == "5")
            #expect(try acks[1].string(at: "ERR-3") == "200")
            #expect(try acks[2].string(at: "MSA-2") == nil)
            #expect(try await store.deadLetters(includeResolved: false).count == 3)
            await client.close()
        }
    }

    /// An oversized frame is refused and the connection goes on; a client that stalls mid-frame holds only its own
    /// connection; garbage between frames is skipped.
    @Test func oversizedStalledAndNoisyClientsDoNotStallOthers() async throws {
        try await Self.withServer(.sqlite, maxMessageBytes: 2_048) { server, store in
            let admit = try Self.bytes(Self.samples.appendingPathComponent("adt-a01-admit.hl7"))
            let stalled = try await Client(port: server.port)
            try await stalled.send([0x0B] + Array(admit.prefix(100)))   // half a frame, then silence

            let noisy = try await Client(port: server.port)
            try await noisy.send(Array("garbage before a frame\r\n".utf8))
            try await noisy.send(MLLPFramer.frame([UInt8](repeating: 0x41, count: 10_000)))
            try await noisy.send(MLLPFramer.frame(admit))
            let acks = try await noisy.acks(2)
            #expect(acks.map { try? $0.string(at: "MSA-1") } == ["AR", "AA"])
            #expect(try acks[0].string(at: "ERR-8")?.contains("at most 2048") == true)
            #expect(try await store.deadLetters(includeResolved: false).count == 1)
            // The stalled client finishes its frame later and is answered too.
            try await stalled.send(Array(admit.dropFirst(100)) + [0x1C, 0x0D])
            #expect(try await stalled.acks(1).first?.string(at: "MSA-1") == "AA")
            await stalled.close()
            await noisy.close()
        }
    }

    @Test func concurrentConnectionsAreAllServed() async throws {
        try await Self.withServer(.sqlite) { server, store in
            let template = String(decoding: try Self.bytes(Self.samples.appendingPathComponent("adt-a01-admit.hl7")), as: UTF8.self)
            let codes = try await withThrowingTaskGroup(of: [String?].self) { group in
                for c in 0..<6 {
                    group.addTask {
                        let client = try await Client(port: server.port)
                        let messages = (0..<5).map { m in
                            Array(template.replacingOccurrences(of: "NG-ADT-0001", with: "C\(c)-M\(m)")
                                .replacingOccurrences(of: "NG-4471", with: "NG-C\(c)M\(m)").utf8)
                        }
                        let acks = try await client.exchange(messages)
                        await client.close()
                        return acks.map { try? $0.string(at: "MSA-1") }
                    }
                }
                var all: [String?] = []
                for try await codes in group { all += codes }
                return all
            }
            #expect(codes.count == 30)
            #expect(codes.allSatisfy { $0 == "AA" })
            let patients = try await store.countsByType().first { $0.type == "Patient" }?.count
            #expect(patients == 30)
        }
    }
}
