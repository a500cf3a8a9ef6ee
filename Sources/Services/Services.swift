/// The application layer (ARCHITECTURE.md, "Services"): each CareLedger use case written once, called by the
/// command-line tool and the HTTP gateway alike.
public enum Services {}
