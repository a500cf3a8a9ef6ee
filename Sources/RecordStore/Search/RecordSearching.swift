/// FHIR search over the search index (docs/store.md): the part of ``RecordStore`` that answers searches.
public protocol RecordSearching: Sendable {}
