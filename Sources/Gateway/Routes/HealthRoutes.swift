public import Hummingbird

/// `GET /health`: a static `200 {"status":"ok"}` that touches neither store nor node, for load balancers and as
/// the benchmarks' baseline.
public struct HealthRoutes: GatewayRoutes {
    public init() {}

    static let body = ByteBuffer(string: #"{"status":"ok"}"#)

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        router.get("/health") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: ResponseBody(byteBuffer: Self.body))
        }
    }
}
