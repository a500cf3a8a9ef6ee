import Testing
@testable import Gateway

@Suite struct GatewayModuleTests {
    @Test func moduleIsLinked() { #expect(String(describing: Gateway.self) == "Gateway") }
}
