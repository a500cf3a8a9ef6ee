// careledger-fuzz: one libFuzzer binary for every target in FuzzTargets; CARELEDGER_FUZZ_TARGET names the target.
// Built only with CARELEDGER_FUZZ=1 (see scripts/fuzz.sh), which compiles the readers with -sanitize=fuzzer,address.
import CFuzz
import Foundation
import FuzzTargets

let selectedTarget: FuzzTarget? = ProcessInfo.processInfo.environment["CARELEDGER_FUZZ_TARGET"].flatMap(FuzzTarget.init(rawValue:))

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let target = selectedTarget else { return 0 }
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    do {
        try target.run(bytes)
    } catch {
        // A property that does not hold is a finding: abort, so libFuzzer saves the input as crash-<sha1>.
        FileHandle.standardError.write(Data("\nPROPERTY VIOLATED: \(error)\n".utf8))
        abort()
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzOne(data, size)
}

guard selectedTarget != nil else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("careledger-fuzz: set CARELEDGER_FUZZ_TARGET to one of: \(names)\n".utf8))
    exit(64)
}
// scripts/fuzz.sh: write the target's generated seeds (receipts, proofs, ledger values) into a folder, then stop.
if let folder = ProcessInfo.processInfo.environment["CARELEDGER_FUZZ_WRITE_SEEDS"], let target = selectedTarget {
    do {
        for seed in try GeneratedSeeds.seeds(for: target) {
            try Data(seed.bytes).write(to: URL(fileURLWithPath: folder).appendingPathComponent(seed.name))
        }
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("careledger-fuzz: cannot write the generated seeds: \(error)\n".utf8))
        exit(73)
    }
}
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
