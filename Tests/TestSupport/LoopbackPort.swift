#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Free TCP ports on 127.0.0.1.
enum LoopbackPort {
    /// A port that was free a moment ago: binds a TCP socket to 127.0.0.1:0, reads the port the kernel chose back
    /// with `getsockname`, and closes the socket. Someone else may take it before we use it; callers retry.
    static func free() throws(PostgresServerError) -> Int {
        #if canImport(Darwin)
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #else
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else {
            throw PostgresServerError("socket() failed: \(errnoDescription())")
        }
        defer { close(fd) }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr = in_addr(s_addr: in_addr_t(0x7F00_0001).bigEndian)  // 127.0.0.1
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            throw PostgresServerError("bind(127.0.0.1:0) failed: \(errnoDescription())")
        }

        var chosen = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &chosen) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(fd, $0, &length)
            }
        }
        guard named == 0 else {
            throw PostgresServerError("getsockname() failed: \(errnoDescription())")
        }
        let port = Int(UInt16(bigEndian: chosen.sin_port))
        guard port > 0 else {
            throw PostgresServerError("getsockname() returned port 0 for a socket bound to 127.0.0.1:0")
        }
        return port
    }

    private static func errnoDescription() -> String {
        let code = errno
        guard let message = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: message)) (errno \(code))"
    }
}
