import FHIRCore
import Foundation
import Mapping
import Testing
import TestSupport

/// The shipped C-CDA mappings (Mappings/ccda) on the corpus (../shared/corpus/ccda) and on small documents.
@Suite struct CCDATests {
    static let mappings = Repository.root.appendingPathComponent("Mappings/ccda").path
    static let corpus = Repository.shared.appendingPathComponent("corpus/ccda")
    static let ccd1 = "hl7-Documents_CCD_CCD_1_CCD.xml"

    static func converter() throws -> CCDAConverter {
        CCDAConverter(mappings: try CCDAMappingSet.load(directory: mappings))
    }

    static func files() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: corpus, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "xml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: corpus.appendingPathComponent(name)))
    }

    static func resources(_ conversion: CCDAConversion, _ type: String) -> [FHIRObject] {
        conversion.resources.filter { $0.resourceType == type }.map(\.object)
    }

    static func codes(_ concept: FHIRValue?) -> [String] {
        concept?.objectValue?["coding"]?.arrayValue?.compactMap { $0.objectValue?["code"]?.stringValue } ?? []
    }

    /// A minimal C-CDA document around `body` (inside ClinicalDocument, after the header).
    static func document(_ body: String, prolog: String = "") -> [UInt8] {
        Array("""
            <?xml version="1.0" encoding="UTF-8"?>
            \(prolog)<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sdtc="urn:hl7-org:sdtc">
              <id root="2.16.840.1.113883.19.5" extension="doc-1"/>
              <code code="34133-9" codeSystem="2.16.840.1.113883.6.1" displayName="Summary of episode note"/>
              <effectiveTime value="20240102030405-0500"/>
              <recordTarget><patientRole>
                <id root="2.16.840.1.113883.19.5.1" extension="MRN-7"/>
                <patient><name><given>Ada</given><family>Lovelace</family></name>
                  <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="18151210"/></patient>
              </patientRole></recordTarget>
              \(body)
            </ClinicalDocument>
            """.utf8)
    }

    // MARK: The corpus

    @Test func theShippedMappingsLoad() throws {
        let set = try CCDAMappingSet.load(directory: Self.mappings)
        #expect(set.sectionNames == ["Problems", "Allergies", "Medications", "Results", "VitalSigns", "Immunizations", "Procedures", "Encounters"])
        for name in ["Patient", "DocumentReference", "Condition", "AllergyIntolerance", "MedicationStatement", "DiagnosticReport",
                     "ResultObservation", "VitalSign", "VitalSignsPanel", "Immunization", "Procedure", "Encounter"] {
            #expect(set.templateNames.contains(name))
        }
    }

    /// Every corpus document converts to valid FHIR (the converter validates each resource and refuses the document
    /// otherwise), or is refused with a reason: the guide's fragments, which are not CDA documents.
    @Test func everyCorpusDocumentConvertsOrIsRefusedWithAReason() throws {
        let converter = try Self.converter()
        let validator = Validator()
        var converted = 0
        var refused: [String: String] = [:]
        var types: [String: Int] = [:]
        var warnings: [String: Int] = [:]
        for url in try Self.files() {
            let bytes = [UInt8](try Data(contentsOf: url))
            let conversion: CCDAConversion
            do throws(CCDAConversionError) {
                conversion = try converter.convert(bytes)
            } catch {
                refused[url.lastPathComponent] = "\(error.code.rawValue): \(error.description)"
                continue
            }
            converted += 1
            for r in conversion.resources {
                types[r.resourceType, default: 0] += 1
                let errors = validator.validate(r).filter(\.isError)
                #expect(errors.isEmpty, "\(url.lastPathComponent): \(r.resourceType) \(errors.map(\.diagnostics))")
            }
            #expect(Self.resources(conversion, "Patient").count == 1, "\(url.lastPathComponent)")
            #expect(Self.resources(conversion, "DocumentReference").count == 1, "\(url.lastPathComponent)")
            for w in conversion.warnings { warnings[Self.kind(of: w.diagnostics), default: 0] += 1 }
            // CCDA_DUMP=DIR writes each Bundle and its warnings there, to read the output by eye.
            if let dump = ProcessInfo.processInfo.environment["CCDA_DUMP"] {
                let base = URL(fileURLWithPath: dump).appendingPathComponent(url.deletingPathExtension().lastPathComponent)
                try Data(JSONWriter().write(conversion.bundle)).write(to: base.appendingPathExtension("json"))
                try Data(conversion.warnings.map(\.diagnostics).joined(separator: "\n").utf8).write(to: base.appendingPathExtension("warnings"))
            }
        }
        print("C-CDA corpus: \(converted) converted, \(refused.count) refused")
        for (name, reason) in refused.sorted(by: { $0.key < $1.key }) { print("  refused \(name): \(reason)") }
        print("  resources: \(types.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        print("  warnings: \(warnings.sorted { $0.value > $1.value }.map { "\($0.value)× \($0.key)" }.joined(separator: "; "))")
        // Throughput (a debug build here; the CLI's benchmark measures release builds).
        let documents = try Self.files().map { [UInt8](try Data(contentsOf: $0)) }
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<3 { for d in documents { _ = try? converter.convert(d) } }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let megabytes = Double(documents.map(\.count).reduce(0, +) * 3) / 1_048_576
        print("  throughput: \(Int(Double(documents.count * 3) / seconds)) documents/s, \(Int(megabytes / seconds)) MiB/s")
        #expect(converted == 38)
        #expect(refused.count == 10)
        // The refused ones are the implementation guide's fragments: <ClinicalDocument> without the CDA namespace.
        #expect(refused.values.allSatisfy { $0.hasPrefix("notCDA:") })
        for type in ["Patient", "DocumentReference", "Condition", "AllergyIntolerance", "MedicationStatement", "Observation",
                     "DiagnosticReport", "Immunization", "Procedure", "Encounter"] {
            #expect(types[type, default: 0] > 0, "no \(type) made from the corpus")
        }
        #expect(types.values.reduce(0, +) >= 750)
    }

    /// Groups warnings by what they say (without line numbers and values) for the summary.
    static func kind(of text: String) -> String {
        if text.contains("entries are not mapped") {
            let title = text.split(separator: "(").dropFirst().first.map { String($0.prefix(while: { $0 != ")" })) } ?? ""
            return "section not mapped [\(title.split(separator: ",").first ?? "")]"
        }
        if text.contains("no time zone") { return "time without zone" }
        if text.contains("is not in table") { return "code not in table \(text.split(separator: " ").drop { $0 != "table" }.dropFirst().first ?? "")" }
        if text.contains("(same ids, same content)") { return "an entry repeated (converted once)" }
        if text.contains("but other content") { return "two entries with one id (the second gets a positional id)" }
        if text.contains("not a CDA timestamp") { return "bad timestamp" }
        if text.contains("not a number") { return "bad number" }
        return String(text.drop { $0 != ":" }.prefix(60))
    }

    @Test func ccd1GivesTheValuesOfTheDocument() throws {
        let conversion = try Self.converter().convert(try Self.bytes(Self.ccd1))

        let patient = try #require(Self.resources(conversion, "Patient").first)
        let patientRef = "Patient/\(patient["id"]?.stringValue ?? "")"
        let name = try #require(patient["name"]?.arrayValue?.first?.objectValue)
        #expect(name["family"]?.stringValue == "Betterhalf")
        #expect(name["given"]?.arrayValue?.compactMap(\.stringValue) == ["Eve"])
        #expect(name["use"]?.stringValue == "official")
        #expect(patient["birthDate"]?.stringValue == "1975-05-01")
        #expect(patient["gender"]?.stringValue == "female")
        let ssn = patient["identifier"]?.arrayValue?.first?.objectValue
        #expect(ssn?["system"]?.stringValue == "http://hl7.org/fhir/sid/us-ssn")
        #expect(ssn?["value"]?.stringValue == "444222222")
        let address = patient["address"]?.arrayValue?.first?.objectValue
        #expect(address?["city"]?.stringValue == "Beaverton")
        #expect(address?["use"]?.stringValue == "home")
        let phone = patient["telecom"]?.arrayValue?.first?.objectValue
        #expect(phone?["system"]?.stringValue == "phone")
        #expect(phone?["value"]?.stringValue == "+1(555)555-2003")
        #expect(Self.codes(patient["maritalStatus"]) == ["M"])

        // Problems: Pneumonia (SNOMED CT 233604007), resolved (it has an end).
        let conditions = Self.resources(conversion, "Condition")
        let pneumonia = try #require(conditions.first { Self.codes($0["code"]).contains("233604007") })
        #expect(pneumonia["code"]?.objectValue?["coding"]?.arrayValue?.first?.objectValue?["system"]?.stringValue == "http://snomed.info/sct")
        #expect(pneumonia["onsetDateTime"]?.stringValue == "2013-07-03")
        #expect(Self.codes(pneumonia["clinicalStatus"]) == ["resolved"])
        #expect(pneumonia["subject"]?.objectValue?["reference"]?.stringValue == patientRef)

        // Allergies: Penicillin (RxNorm 70618), reaction Nausea, severity mild.
        let allergies = Self.resources(conversion, "AllergyIntolerance")
        let penicillin = try #require(allergies.first { Self.codes($0["code"]).contains("70618") })
        #expect(penicillin["patient"]?.objectValue?["reference"]?.stringValue == patientRef)
        #expect(Self.codes(penicillin["clinicalStatus"]) == ["active"])
        #expect(penicillin["onsetDateTime"]?.stringValue == "1998-05-01")
        let reaction = penicillin["reaction"]?.arrayValue?.first?.objectValue
        #expect(Self.codes(reaction?["manifestation"]?.arrayValue?.first) == ["422587007"])
        #expect(reaction?["severity"]?.stringValue == "mild")
        #expect(allergies.contains { Self.codes($0["code"]).contains("2670") })  // Codeine

        // Medications: Proventil (RxNorm 573621), active since 2011-01-03, 2 puffs by inhalation.
        let statements = Self.resources(conversion, "MedicationStatement")
        let proventil = try #require(statements.first { Self.codes($0["medicationCodeableConcept"]).contains("573621") })
        #expect(proventil["status"]?.stringValue == "active")
        #expect(proventil["effectivePeriod"]?.objectValue?["start"]?.stringValue == "2011-01-03")
        let dosage = proventil["dosage"]?.arrayValue?.first?.objectValue
        #expect(Self.codes(dosage?["route"]) == ["C38216"])
        #expect(dosage?["doseAndRate"]?.arrayValue?.first?.objectValue?["doseQuantity"]?.objectValue?["value"] == .number(FHIRNumber(2)))
        #expect(Self.codes(proventil["reasonCode"]?.arrayValue?.first) == ["195967001"])

        // Results: hemoglobin 13.2 g/dL in a CBC report.
        let observations = Self.resources(conversion, "Observation")
        let hemoglobin = try #require(observations.first { Self.codes($0["code"]).contains("718-7") })
        let quantity = hemoglobin["valueQuantity"]?.objectValue
        #expect(quantity?["value"] == .number(FHIRNumber(uncheckedLexeme: "13.2")))
        #expect(quantity?["unit"]?.stringValue == "g/dL")
        #expect(quantity?["system"]?.stringValue == "http://unitsofmeasure.org")
        #expect(hemoglobin["effectiveDateTime"]?.stringValue == "2008-03-19T08:30:00-08:00")
        #expect(Self.codes(hemoglobin["category"]?.arrayValue?.first) == ["laboratory"])
        #expect(hemoglobin["status"]?.stringValue == "final")
        let report = try #require(Self.resources(conversion, "DiagnosticReport").first { Self.codes($0["code"]).contains("57021-8") })
        let results = report["result"]?.arrayValue?.compactMap { $0.objectValue?["reference"]?.stringValue } ?? []
        #expect(results.contains("Observation/\(hemoglobin["id"]?.stringValue ?? "")"))

        // Vital signs: body height 177 cm.
        let height = try #require(observations.first { Self.codes($0["code"]).contains("8302-2") })
        #expect(Self.codes(height["category"]?.arrayValue?.first) == ["vital-signs"])
        #expect(height["valueQuantity"]?.objectValue?["value"] == .number(FHIRNumber(177)))
        #expect(height["valueQuantity"]?.objectValue?["code"]?.stringValue == "cm")
        let panel = try #require(observations.first { Self.codes($0["code"]).contains("85353-1") })
        #expect(panel["hasMember"]?.arrayValue?.count == 4)

        // Immunizations: influenza (CVX 88) given in 1999-11; one refused (negationInd) is not-done.
        let immunizations = Self.resources(conversion, "Immunization")
        let flu = try #require(immunizations.first { Self.codes($0["vaccineCode"]).contains("88") && $0["status"]?.stringValue == "completed" })
        #expect(flu["occurrenceDateTime"]?.stringValue == "1999-11")
        #expect(flu["occurrenceString"] == nil)
        #expect(flu["lotNumber"]?.stringValue == "1")
        #expect(immunizations.contains { $0["status"]?.stringValue == "not-done" })

        // Procedures: colonoscopy (SNOMED CT 73761001) on 2012-05-12.
        let colonoscopy = try #require(Self.resources(conversion, "Procedure").first { Self.codes($0["code"]).contains("73761001") })
        #expect(colonoscopy["performedDateTime"]?.stringValue == "2012-05-12")
        #expect(colonoscopy["status"]?.stringValue == "completed")
        #expect(colonoscopy["code"]?.objectValue?["text"]?.stringValue != nil)

        // Encounters: an office visit (CPT 99213, ambulatory), its narrative text resolved from #Encounter1.
        let visit = try #require(Self.resources(conversion, "Encounter").first)
        let visitCodes = Self.codes(visit["type"]?.arrayValue?.first)
        #expect(visitCodes.contains("99213"))
        #expect(visit["type"]?.arrayValue?.first?.objectValue?["text"]?.stringValue == "Checkup Examination")
        #expect(visit["class"]?.objectValue?["code"]?.stringValue == "AMB")
        #expect(visit["period"]?.objectValue?["start"]?.stringValue == "2012-09-27T13:00:00-05:00")
        #expect(visit["status"]?.stringValue == "finished")
        #expect(visit["location"]?.arrayValue?.first?.objectValue?["location"]?.objectValue?["display"]?.stringValue == "Good Health Urgent Care")

        // The document: type, date, master identifier.
        let reference = try #require(Self.resources(conversion, "DocumentReference").first)
        #expect(Self.codes(reference["type"]) == ["34133-9"])
        #expect(reference["date"]?.stringValue == "2013-08-15T10:30:00-08:00")
        #expect(reference["masterIdentifier"]?.objectValue?["value"]?.stringValue == "TT988")
        #expect(reference["masterIdentifier"]?.objectValue?["system"]?.stringValue == "urn:oid:2.16.840.1.113883.19.5.99999.1")
        #expect(reference["subject"]?.objectValue?["reference"]?.stringValue == patientRef)

        // The Bundle: a transaction of PUTs under the resources' ids.
        let bundle = try #require(conversion.bundle.objectValue)
        #expect(bundle["type"]?.stringValue == "transaction")
        let entries = bundle["entry"]?.arrayValue ?? []
        #expect(entries.count == conversion.resources.count)
        for (entry, resource) in zip(entries, conversion.resources) {
            let request = entry.objectValue?["request"]?.objectValue
            #expect(request?["method"]?.stringValue == "PUT")
            #expect(request?["url"]?.stringValue == "\(resource.resourceType)/\(resource.id ?? "")")
        }
        // Sections without a mapping (social history, family history, …) are named in warnings.
        #expect(conversion.warnings.contains { $0.diagnostics.contains("SOCIAL HISTORY") && $0.diagnostics.contains("not mapped") })
    }

    @Test func conversionIsDeterministic() throws {
        let converter = try Self.converter()
        for name in [Self.ccd1, "onc-Meditech_Magic_Larson.xml", "hl7-Documents_Discharge_Summary_Discharge_Summary.xml"] {
            let bytes = try Self.bytes(name)
            let first = try converter.convert(bytes)
            let second = try converter.convert(bytes)
            #expect(JSONWriter(style: .compact).write(first.bundle) == JSONWriter(style: .compact).write(second.bundle), "\(name)")
            #expect(first.warnings == second.warnings)
            // Ids are unique within a Bundle.
            let keys = first.resources.map { "\($0.resourceType)/\($0.id ?? "")" }
            #expect(Set(keys).count == keys.count)
        }
    }

    @Test func theDocumentReferenceKeepsTheDigestsOfTheOriginal() throws {
        let bytes = try Self.bytes(Self.ccd1)
        let conversion = try Self.converter().convert(bytes)
        let reference = try #require(Self.resources(conversion, "DocumentReference").first)
        let attachment = try #require(reference["content"]?.arrayValue?.first?.objectValue?["attachment"]?.objectValue)
        #expect(attachment["hash"]?.stringValue == Data(SHA1.digest(bytes)).base64EncodedString())
        #expect(attachment["hash"]?.stringValue == conversion.sha1)
        #expect(attachment["size"] == .number(FHIRNumber(bytes.count)))
        #expect(attachment["contentType"]?.stringValue == "application/xml")
        #expect(attachment["data"] == nil)
        #expect(attachment["url"] == nil)
        let identifiers = reference["identifier"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(identifiers.contains { $0["system"]?.stringValue == "urn:ietf:rfc:3986" && $0["value"]?.stringValue == "urn:sha256:\(conversion.sha256)" })
        #expect(conversion.sha256.count == 64)
        #expect(Self.codes(reference["content"]?.arrayValue?.first?.objectValue?["format"].map { .object(FHIRObject(members: [.init(name: "coding", value: .array([$0]))])) })
            == ["urn:hl7-org:sdwg:ccda-structuredBody:2.1"])
    }

    // MARK: Refusals

    @Test func dtdsAndEntitiesAreRefused() throws {
        let converter = try Self.converter()
        let xxe = Self.document("<title>&e;</title>", prolog: "<!DOCTYPE ClinicalDocument [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n")
        let error = try #require(throws: CCDAConversionError.self) { try converter.convert(xxe) }
        #expect(error.code == .forbiddenXMLConstruct)
        #expect(error.description.contains("DOCTYPE"))
        #expect(error.outcome.issues.first?.code == "security")
        #expect(!error.description.contains("root:"))  // nothing of /etc/passwd

        let bomb = Self.document("<title>&lol9;</title>", prolog: "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol9 \"&lol;&lol;\">]>\n")
        #expect(throws: CCDAConversionError.self) { try converter.convert(bomb) }

        // An undeclared entity without any DTD.
        let entity = try #require(throws: CCDAConversionError.self) { try converter.convert(Self.document("<title>&nbsp;</title>")) }
        #expect(entity.code == .forbiddenXMLConstruct || entity.code == .malformedXML)
    }

    @Test func otherInputIsRefusedWithAClearReason() throws {
        let converter = try Self.converter()
        let fhir = Array(#"<Patient xmlns="http://hl7.org/fhir"><id value="x"/></Patient>"#.utf8)
        let notCDA = try #require(throws: CCDAConversionError.self) { try converter.convert(fhir) }
        #expect(notCDA.code == .notCDA)
        #expect(notCDA.description.contains("ClinicalDocument in urn:hl7-org:v3"))

        let bare = Array("<ClinicalDocument><id root=\"1.2\"/></ClinicalDocument>".utf8)
        #expect((try? converter.convert(bare)) == nil)

        let broken = Array(String(decoding: Self.document(""), as: UTF8.self).replacingOccurrences(of: "</ClinicalDocument>", with: "").utf8)
        let malformed = try #require(throws: CCDAConversionError.self) { try converter.convert(broken) }
        #expect(malformed.code == .malformedXML)

        let huge = [UInt8](repeating: 0x20, count: 33 << 20)
        let tooLarge = try #require(throws: CCDAConversionError.self) { try converter.convert(huge) }
        #expect(tooLarge.code == .tooLarge)

        let deep = Self.document(String(repeating: "<component>", count: 300) + String(repeating: "</component>", count: 300))
        let tooDeep = try #require(throws: CCDAConversionError.self) { try converter.convert(deep) }
        #expect(tooDeep.code == .tooLarge)
        #expect(tooDeep.description.contains("nest"))

        let crowded = Self.document("<title " + (0..<400).map { "a\($0)=\"1\"" }.joined(separator: " ") + "/>")
        let tooMany = try #require(throws: CCDAConversionError.self) { try converter.convert(crowded) }
        #expect(tooMany.code == .tooLarge)
    }

    // MARK: Small documents

    @Test func aSmallDocumentMapsItsHeaderAndNullFlavors() throws {
        let bytes = Self.document("""
            <component><structuredBody><component><section>
              <templateId root="2.16.840.1.113883.10.20.22.2.5.1"/>
              <title>PROBLEMS</title>
              <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
                <id root="1.2.3.4" extension="c1"/><statusCode code="active"/>
                <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
                  <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="1.2.3.4" extension="p1"/>
                  <effectiveTime><low value="202001011230"/><high nullFlavor="UNK"/></effectiveTime>
                  <value xsi:type="CD" nullFlavor="OTH"><originalText>Knee pain</originalText>
                    <translation code="M25.561" codeSystem="2.16.840.1.113883.6.90"/></value>
                </observation></entryRelationship>
              </act></entry>
            </section></component></structuredBody></component>
            """)
        let conversion = try Self.converter().convert(bytes)
        let patient = try #require(Self.resources(conversion, "Patient").first)
        #expect(patient["birthDate"]?.stringValue == "1815-12-10")
        #expect(patient["identifier"]?.arrayValue?.first?.objectValue?["system"]?.stringValue == "urn:oid:2.16.840.1.113883.19.5.1")
        let condition = try #require(Self.resources(conversion, "Condition").first)
        // The nullFlavor'd code keeps its translation and original text; the unknown end is absent.
        #expect(Self.codes(condition["code"]) == ["M25.561"])
        #expect(condition["code"]?.objectValue?["text"]?.stringValue == "Knee pain")
        #expect(condition["abatementDateTime"] == nil)
        #expect(Self.codes(condition["clinicalStatus"]) == ["active"])
        // A time without a zone keeps its date, with a warning.
        #expect(condition["onsetDateTime"]?.stringValue == "2020-01-01")
        #expect(conversion.warnings.contains { $0.diagnostics.contains("202001011230 has a time of day but no time zone") })
        // Ids come from the entry's id: the same entry in another document is the same Condition.
        let other = try Self.converter().convert(Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "doc-1", with: "doc-2").utf8))
        #expect(Self.resources(other, "Condition").first?["id"] == condition["id"])
        #expect(Self.resources(other, "DocumentReference").first?["id"] != Self.resources(conversion, "DocumentReference").first?["id"])
    }

    @Test func pathsReadLikeXPath() throws {
        func expression(_ text: String) -> MappingError? {
            do { _ = try CCDAMappingSet.parse(document: "resources:\n  - {template: P, for: \"\(text)\"}\n",
                                            resources: [("resources/P.yaml", "resourceType: Patient\nrules:\n  - {path: active, value: true}\n")],
                                            tables: []) } catch { return error }
            return nil
        }
        #expect(expression("recordTarget/patientRole") == nil)
        #expect(expression("component/structuredBody//section[templateId/@root='1.2' or not(@nullFlavor)]/entry[1]/*") == nil)
        #expect(expression("../sdtc:raceCode") == nil)
        #expect(expression("a/@b/c")?.reason.contains("last step") == true)
        #expect(expression("a[") != nil)
        #expect(expression("foo:bar")?.reason.contains("prefix") == true)
        #expect(expression("a[b = ]") != nil)
    }

    // MARK: Mapping files

    @Test func mistakesInMappingFilesNameTheFileAndLine() throws {
        let document = "sections:\n  Problems: [2.16.840.1.113883.10.20.22.2.5.1]\nresources:\n  - {template: P, for: recordTarget/patientRole}\n"
        func load(document: String = document, template: String) -> MappingError? {
            do { _ = try CCDAMappingSet.parse(document: document, resources: [("resources/P.yaml", template)], tables: []) } catch { return error }
            return nil
        }
        let good = "resourceType: Patient\nid: [id]\nrules:\n  - {path: gender, from: patient/administrativeGenderCode/@code}\n"
        #expect(load(template: good) == nil)
        // A FHIR element that does not exist.
        let misspelt = load(template: "resourceType: Patient\nrules:\n  - {path: gendr, from: x/@code}\n")
        #expect(misspelt?.description == "resources/P.yaml:3: gendr: Patient has no element gendr")
        // A datatype that cannot become the target.
        #expect(load(template: "resourceType: Patient\nrules:\n  - {path: gender, from: x, type: PN}\n")?.description.hasPrefix("resources/P.yaml:3:") == true)
        // A path that does not parse.
        #expect(load(template: "resourceType: Patient\nrules:\n  - {path: gender, from: \"x[@code = \"}\n")?.description.hasPrefix("resources/P.yaml:3:") == true)
        // An unknown key, a missing table.
        #expect(load(template: "resourceType: Patient\nrules:\n  - path: gender\n    form: x\n")?.description.hasPrefix("resources/P.yaml:4:") == true)
        #expect(load(template: "resourceType: Patient\nrules:\n  - {path: gender, from: x, table: sexes}\n")?.description == "resources/P.yaml:3: no vocabulary table named sexes (tables/*.yaml)")
        // A constant that is not FHIR.
        #expect(load(template: "resourceType: Patient\nrules:\n  - path: maritalStatus\n    value: {codding: []}\n")?.description.hasPrefix("resources/P.yaml:4:") == true)
        // In document.yaml: an unknown section, an unknown template, a bad path.
        #expect(load(document: document + "  - {template: P, section: Problemz, for: entry}\n", template: good)?.description.hasPrefix("document.yaml:5:") == true)
        #expect(load(document: document + "  - {template: Q, for: entry}\n", template: good)?.description.hasPrefix("document.yaml:5:") == true)
        #expect(load(document: document + "  - {template: P, for: \"entry[\"}\n", template: good)?.description.hasPrefix("document.yaml:5:") == true)
    }

    /// The README's worked example: the Social History section is warned about, then mapped by adding YAML only.
    @Test func anUnmappedSectionIsWarnedAboutThenMappedByAddingATemplate() throws {
        let bytes = try Self.bytes(Self.ccd1)
        let before = try Self.converter().convert(bytes)
        #expect(before.warnings.contains { $0.diagnostics.contains("section \"SOCIAL HISTORY\"") })

        let copy = try Repository.temporaryDirectory("ccda-mappings")
        defer { try? FileManager.default.removeItem(at: copy) }
        let target = copy.appendingPathComponent("ccda")
        try FileManager.default.copyItem(atPath: Self.mappings, toPath: target.path)
        let documentFile = target.appendingPathComponent("document.yaml")
        var document = try String(contentsOf: documentFile, encoding: .utf8)
        document = document.replacingOccurrences(of: "sections:\n", with: "sections:\n  SocialHistory: [2.16.840.1.113883.10.20.22.2.17]\n")
        document = document.replacingOccurrences(of: "resources:\n", with: """
            resources:
              - template: SmokingStatus
                section: SocialHistory
                for: "entry/observation[templateId/@root = '2.16.840.1.113883.10.20.22.4.78']"

            """)
        try document.write(to: documentFile, atomically: true, encoding: .utf8)
        try """
            resourceType: Observation
            id: [id]
            rules:
              - {path: status, value: final}
              - path: category
                value: {coding: [{system: http://terminology.hl7.org/CodeSystem/observation-category, code: social-history}]}
              - {path: code, value: {coding: [{system: http://loinc.org, code: 72166-2, display: Tobacco smoking status}]}}
              - {path: subject, reference: Patient}
              - {path: effectiveDateTime, from: effectiveTime, type: TS}
              - {path: valueCodeableConcept, from: value, type: CD}

            """.write(to: target.appendingPathComponent("resources/SmokingStatus.yaml"), atomically: true, encoding: .utf8)
        let after = try CCDAConverter(mappings: try CCDAMappingSet.load(directory: target.path)).convert(bytes)
        let smoking = try #require(Self.resources(after, "Observation").first { Self.codes($0["code"]) == ["72166-2"] })
        #expect(Self.codes(smoking["valueCodeableConcept"]) == ["8517006"])
        #expect(smoking["effectiveDateTime"]?.stringValue == "2012-09-10")
        // The section's two other entries are still named, until the section is ignored.
        #expect(after.warnings.contains { $0.diagnostics.contains("section \"SOCIAL HISTORY\"") && $0.diagnostics.contains("2 of 3 entries are not mapped") })
        try document.replacingOccurrences(of: "ignore: []", with: "ignore: [SocialHistory]").write(to: documentFile, atomically: true, encoding: .utf8)
        let ignored = try CCDAConverter(mappings: try CCDAMappingSet.load(directory: target.path)).convert(bytes)
        #expect(!ignored.warnings.contains { $0.diagnostics.contains("SOCIAL HISTORY") })
        #expect(ignored.resources.count == after.resources.count)
    }
}

/// SHA-1 (FIPS 180-4), written out so the test checks the converter's digest independently of its library.
enum SHA1 {
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var data = message
        let bitLength = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for i in (0..<8).reversed() { data.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for t in 0..<16 {
                w[t] = (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(data[chunk + 4 * t + $1]) }
            }
            for t in 16..<80 {
                let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
                w[t] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for t in 0..<80 {
                let (f, k): (UInt32, UInt32) = switch t {
                case 0..<20: ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        return h.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    }
}
