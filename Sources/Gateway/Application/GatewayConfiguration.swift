import Foundation

/// How one gateway process listens: its address and, for HTTPS, the certificate chain and key (PEM files).
///
/// Nothing here is state the gateway keeps for itself: several gateway processes may run with the same store and
/// node (what they must share, such as the token `jti` replay cache, lives in the store).
public struct GatewayConfiguration: Sendable {
    /// The listen address, as `--listen HOST:PORT` says it; port 0 asks the system for a free port.
    public var host: String
    public var port: Int
    /// The PEM certificate chain and private key: HTTPS when both are given, plain HTTP when neither is.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// The base URL clients reach the FHIR API at (`Location` headers, Bundle links, the CapabilityStatement), when it
    /// differs from the URL the request arrived at (a proxy in front). Without it the request's `Host` is used.
    public var publicBaseURL: String?

    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 8080

    public init(host: String = GatewayConfiguration.defaultHost, port: Int = GatewayConfiguration.defaultPort,
                tlsCertificate: String? = nil, tlsKey: String? = nil, publicBaseURL: String? = nil) {
        self.host = host
        self.port = port
        self.tlsCertificate = tlsCertificate
        self.tlsKey = tlsKey
        self.publicBaseURL = publicBaseURL
    }

    /// Whether the gateway serves HTTPS.
    public var usesTLS: Bool { tlsCertificate != nil }

    /// `http` or `https`.
    public var scheme: String { usesTLS ? "https" : "http" }

    /// Reads `HOST:PORT` (`[::1]:8080` for IPv6, `:8080` for the default host). Throws a message naming the value.
    public static func parseListen(_ value: String) throws(GatewayConfigurationError) -> (host: String, port: Int) {
        var host: Substring
        let portText: Substring
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]"), value[value.index(after: close)...].hasPrefix(":") else {
                throw GatewayConfigurationError("--listen '\(value)' is not [IPv6]:PORT")
            }
            host = value[value.index(after: value.startIndex)..<close]
            portText = value[value.index(close, offsetBy: 2)...]
        } else {
            guard let colon = value.lastIndex(of: ":") else {
                throw GatewayConfigurationError("--listen '\(value)' is not HOST:PORT")
            }
            host = value[..<colon]
            portText = value[value.index(after: colon)...]
        }
        if host.isEmpty { host = Substring(defaultHost) }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw GatewayConfigurationError("--listen '\(value)': the port must be a number from 0 to 65535")
        }
        return (String(host), port)
    }
}

/// A gateway configuration that cannot be used: a malformed listen address, half a TLS pair, an unreadable PEM
/// file.
public struct GatewayConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
