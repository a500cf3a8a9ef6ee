import Ledger

extension NodeRPC {
    /// Routes served only with `node start --unsafe-rpc` (as CometBFT's unsafe routes): fault tests cut a validator
    /// off its peers and reconnect it. Nil for any other request.
    ///
    /// - `POST /unsafe/disconnect`: drop every P2P session and refuse new ones;
    /// - `POST /unsafe/reconnect`: accept and dial peers again;
    /// - `GET /unsafe/consensus`: the engine's height, round and step, and the connected peers.
    public static func handleUnsafe(_ request: RPCRequest, consensus: ConsensusNode) async -> RPCResponse? {
        switch (request.method, request.path) {
        case ("POST", "/unsafe/disconnect"):
            await consensus.setConnected(false)
            return RPCJSON.response(200, ConnectionAnswer(connected: false))
        case ("POST", "/unsafe/reconnect"):
            await consensus.setConnected(true)
            return RPCJSON.response(200, ConnectionAnswer(connected: true))
        case ("GET", "/unsafe/consensus"):
            let p = await consensus.position
            let peers = await consensus.connectedPeers.map { Base64.encode($0.bytes) }
            return RPCJSON.response(200, ConsensusPositionAnswer(height: p.height, round: Int(p.round), step: "\(p.step)", peers: peers))
        default:
            return nil
        }
    }
}
