import CLibXML2
import Foundation
import Testing
@testable import FHIRCore

/// XML read throughput on the Synthea bundles converted to FHIR XML, against a bare libxml2 SAX2 parse of the
/// same bytes in the same run. Opt-in (it takes a while and wants a release build):
/// `CARELEDGER_BENCH=1 swift test -c release --filter XMLBenchmark`.
@Suite("XML benchmark", .enabled(if: ProcessInfo.processInfo.environment["CARELEDGER_BENCH"] != nil))
struct XMLBenchmarkTests {
    @Test(arguments: [false, true])
    func readThroughputAgainstBareSAX(pretty: Bool) throws {
        let writer = XMLWriter(pretty: pretty)
        var documents: [[UInt8]] = []
        for name in Corpus.files(in: Corpus.syntheaBundles, ext: "json") {
            let json = try JSONReader().read(Corpus.bytes(Corpus.syntheaBundles.appendingPathComponent(name)))
            documents.append(try writer.write(json))
        }
        let total = documents.reduce(0) { $0 + $1.count }
        var handler = xmlSAXHandler()
        handler.initialized = UInt32(XML_SAX2_MAGIC)
        handler.startElementNs = { _, _, _, _, _, _, _, _, _ in }
        handler.endElementNs = { _, _, _, _ in }
        handler.characters = { _, _, _ in }
        let reader = XMLReader()
        let clock = ContinuousClock()
        var best: [Duration] = [.seconds(1000), .seconds(1000), .seconds(1000)]
        for _ in 0..<15 {
            let sax = clock.measure {
                for d in documents {
                    d.withUnsafeBytes { b in
                        _ = xmlSAXUserParseMemory(&handler, nil, b.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(b.count))
                    }
                }
            }
            let read = clock.measure {
                for d in documents { _ = try? reader.read(d) }
            }
            let pipeline = clock.measure {
                for d in documents {
                    guard let r = try? reader.read(d) else { continue }
                    _ = try? CanonicalForm.hash(of: r)
                }
            }
            best = [min(best[0], sax), min(best[1], read), min(best[2], pipeline)]
        }
        func rate(_ d: Duration) -> Double {
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            return Double(total) / seconds / 1e6
        }
        let (sax, read, pipeline) = (rate(best[0]), rate(best[1]), rate(best[2]))
        print("XML benchmark (\(pretty ? "pretty" : "compact") XML, \(documents.count) Synthea bundles, \(total) bytes, best of 15):"
              + " bare SAX \(Int(sax)) MB/s, XMLReader.read \(Int(read)) MB/s (\(Int(read / sax * 100))%),"
              + " read + canonicalize + hash \(Int(pipeline)) MB/s (\(Int(pipeline / sax * 100))%)")
        #expect(read > 0)
    }
}
