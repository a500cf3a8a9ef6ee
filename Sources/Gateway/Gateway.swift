/// The HTTP gateway (Hummingbird 2): FHIR R4 REST for partner hospitals, SMART Backend Services, consent
/// enforcement and audit, and the node's loopback RPC.
public enum Gateway {}
