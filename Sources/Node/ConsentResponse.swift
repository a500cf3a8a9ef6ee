/// The CDS Hooks `patient-consent-consult` response CareLedger answers a consent query with (`consent query --json`,
/// a consent proof's `response`): one card whose `extension` carries the decision and REDACT obligations, as LEAP's
/// consent decision service answers, with where on the chain it was evaluated.
public struct ConsentResponse: Codable, Sendable, Hashable {
    /// A code, `system` left out when the term had none.
    public struct Coding: Codable, Sendable, Hashable {
        public var system: String?
        public var code: String

        public init(system: String?, code: String) {
            self.system = system
            self.code = code
        }

        /// `SYSTEM|CODE` or a bare `CODE`.
        init(_ term: String) {
            guard let bar = term.firstIndex(of: "|") else {
                self.init(system: nil, code: term)
                return
            }
            let system = String(term[..<bar])
            self.init(system: system.isEmpty ? nil : system, code: String(term[term.index(after: bar)...]))
        }
    }

    /// A REDACT obligation: the labels and codes (`codes`) and resource types (`classes`) to withhold.
    public struct Obligation: Codable, Sendable, Hashable {
        public struct Parameters: Codable, Sendable, Hashable {
            public var codes: [Coding]?
            public var classes: [String]?
        }

        public var id: Coding
        public var parameters: Parameters
    }

    /// The block whose state the answer comes from.
    public struct EvaluatedAt: Codable, Sendable, Hashable {
        public var chainId: String
        public var height: UInt64
        public var time: Int64
        public var stateRoot: String
    }

    public struct Extension: Codable, Sendable, Hashable {
        /// CONSENT_PERMIT, CONSENT_DENY or NO_CONSENT.
        public var decision: String
        public var obligations: [Obligation]
        /// `directive/<hex id>` of each directive the answer rests on.
        public var basedOn: [String]
        public var evaluatedAt: EvaluatedAt
    }

    public struct Source: Codable, Sendable, Hashable {
        public struct Topic: Codable, Sendable, Hashable {
            public var code: String
        }

        public var label: String
        public var topic: Topic
    }

    public struct Card: Codable, Sendable, Hashable {
        public var summary: String
        /// `info` for a permit, else `warning`.
        public var indicator: String
        public var source: Source
        public var `extension`: Extension
    }

    public var cards: [Card]
}
