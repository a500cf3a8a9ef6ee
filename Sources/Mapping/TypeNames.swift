import FHIRCore

/// What the FHIR R4 type table says about a template's target paths: whether each step repeats, and its type.
enum TypeNames {
    /// A class: the engine reads a rule's steps for every value it writes, and a reference is one retain.
    final class ResolvedStep: Sendable {
        let name: String
        let selector: (key: String, value: String)?
        let isArray: Bool
        let type: String

        init(name: String, selector: (key: String, value: String)?, isArray: Bool, type: String) {
            self.name = name
            self.selector = selector
            self.isArray = isArray
            self.type = type
        }
    }

    static func isResource(_ name: String) -> Bool { TypeTable.r4.isResourceType(name) }

    /// The steps of `path` in `resourceType`, or why it names no element.
    static func resolve(_ path: TargetPath, in resourceType: String) -> Result<[ResolvedStep], MappingError> {
        var typeName = resourceType
        var out: [ResolvedStep] = []
        for step in path.steps {
            guard let type = TypeTable.r4.type(typeName), let match = type.element(named: step.name) else {
                return .failure(MappingError("", line: nil, "\(path.text): \(typeName) has no element \(step.name)"))
            }
            if step.selector != nil, !match.element.isArray {
                return .failure(MappingError("", line: nil, "\(path.text): \(step.name) does not repeat, so it takes no [selector]"))
            }
            out.append(ResolvedStep(name: step.name, selector: step.selector, isArray: match.element.isArray, type: match.type))
            typeName = match.type
        }
        return .success(out)
    }

    static func check(_ path: TargetPath, in resourceType: String) -> String? {
        if case .failure(let error) = resolve(path, in: resourceType) { return error.reason }
        return nil
    }
}
