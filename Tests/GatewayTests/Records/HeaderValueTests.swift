import Foundation
@testable import Gateway
import Testing

/// The header values the gateway reads and writes, checked against Foundation and the RFCs' own examples.
@Suite("Gateway header values")
struct HeaderValueTests {
    @Test("HTTP-dates: RFC 9110's example, FHIR instants with fractions and offsets, Foundation's formatter agrees")
    func httpDates() throws {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.format(seconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.seconds(ofInstant: "1994-11-06T08:49:37.123Z") == 784_111_777)
        #expect(HTTPDate.seconds(ofInstant: "1994-11-06T10:49:37+02:00") == 784_111_777)
        #expect(HTTPDate.seconds(ofInstant: "1994-11-06") == nil)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let seconds = Int64.random(in: -2_000_000_000...4_000_000_000, using: &rng)
            let expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            #expect(HTTPDate.format(seconds: seconds) == expected)
            #expect(HTTPDate.parse(expected) == seconds)
        }
    }

    @Test("ETags, listen addresses and the FHIR path shapes behind 404 and 405")
    func values() throws {
        #expect(ETag.version(of: "W/\"3\"") == 3)
        #expect(ETag.version(of: "\"12\"") == 12)
        #expect(ETag.version(of: "W/\"x\"") == nil)
        #expect(try GatewayConfiguration.parseListen("0.0.0.0:8443") == ("0.0.0.0", 8443))
        #expect(try GatewayConfiguration.parseListen("[::1]:0") == ("::1", 0))
        #expect(try GatewayConfiguration.parseListen(":9000") == ("127.0.0.1", 9000))
        #expect((try? GatewayConfiguration.parseListen("localhost")) == nil)
        #expect((try? GatewayConfiguration.parseListen("localhost:70000")) == nil)
        #expect(FHIRPathShape.allowedMethods(forPath: "/Patient/1").map(\.rawValue) == ["GET", "PUT", "DELETE", "PATCH"])
        #expect(FHIRPathShape.allowedMethods(forPath: "/Patient/1/$everything").map(\.rawValue) == ["GET"])
        #expect(FHIRPathShape.allowedMethods(forPath: "/Spaceship/1").isEmpty)
        #expect(FHIRPathShape.allowedMethods(forPath: "/Observation/1/$everything").isEmpty)
    }
}
