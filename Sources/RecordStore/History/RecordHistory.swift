/// History across resources and types, and logical deletes: the part of ``RecordStore`` behind FHIR's history
/// and delete interactions.
public protocol RecordHistory: Sendable {}
