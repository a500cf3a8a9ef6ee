import Testing
@testable import FHIRCore
@Test func objectEqualityIgnoresMemberOrder() {
    let a = FHIRObject(["a": .number(FHIRNumber(1)), "b": .string("x")])
    let b = FHIRObject(["b": .string("x"), "a": .number(FHIRNumber(1))])
    #expect(a == b)
    #expect(a != FHIRObject(["a": .number(FHIRNumber(1))]))
}
