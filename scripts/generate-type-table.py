#!/usr/bin/env python3
"""Generate CareLedger's compact FHIR R4 type table from the official StructureDefinitions.

Input: profiles-types.json and profiles-resources.json of FHIR R4 4.0.1 (the hl7.fhir.r4.core package), by default
from ../shared/fhir-r4-definitions next to the repository. Output: Sources/FHIRCore/TypeTable/TypeTable+R4.swift,
one Swift raw string literal that FHIRCore parses once at first use (TypeTable.swift documents the format).

    python3 scripts/generate-type-table.py            # (re)write the Swift file
    python3 scripts/generate-type-table.py --check    # exit 1 if the committed file is not what this produces

Standard library only, so CI can run it before anything is installed.
"""

import argparse
import hashlib
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DEFINITIONS = os.path.join(os.path.dirname(REPO), "shared", "fhir-r4-definitions")
OUTPUT = os.path.join(REPO, "Sources", "FHIRCore", "TypeTable", "TypeTable+R4.swift")
FILES = ["profiles-types.json", "profiles-resources.json"]

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
NUMBER_PRIMITIVES = {"decimal", "integer", "positiveInt", "unsignedInt"}


class GeneratorError(Exception):
    pass


def ext_value(extensions, url):
    for e in extensions or []:
        if e.get("url") == url:
            for key, value in e.items():
                if key.startswith("value"):
                    return value
    return None


def type_code(t):
    """The FHIR type of one ElementDefinition.type entry (System.* codes map through the fhir-type extension)."""
    code = t["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        mapped = ext_value(t.get("extension"), FHIR_TYPE_EXT)
        return mapped if mapped else "string"
    return code


def check_field(value, what):
    if "\t" in value or "\n" in value or '"""#' in value:
        raise GeneratorError(f"{what} cannot be written to the table: {value!r}")
    return value


def structure_definitions(definitions_dir):
    for name in FILES:
        path = os.path.join(definitions_dir, name)
        with open(path, "rb") as f:
            raw = f.read()
        bundle = json.loads(raw)
        for entry in bundle.get("entry", []):
            r = entry.get("resource", {})
            if r.get("resourceType") == "StructureDefinition":
                yield r


def build(definitions_dir):
    """Returns the table's lines: one `T` line per type, followed by its `E` element lines."""
    lines = []
    seen = set()
    for sd in structure_definitions(definitions_dir):
        kind = sd["kind"]
        if kind == "logical" or sd.get("derivation") == "constraint":
            continue  # SimpleQuantity and MoneyQuantity constrain Quantity; elements refer to Quantity itself
        name = sd["id"]
        if name in seen:
            raise GeneratorError(f"type {name} defined twice")
        seen.add(name)
        abstract = bool(sd.get("abstract", False))
        elements = sd["snapshot"]["element"]
        paths = [e["path"] for e in elements]
        has_children = set()
        for p in paths:
            if "." in p:
                has_children.add(p.rsplit(".", 1)[0])

        # Types in definition order: the type itself, then each backbone element in the order it first appears.
        order = [name]
        children = {name: []}
        pattern = ""
        for e in elements[1:]:
            path = e["path"]
            parent, element_name = path.rsplit(".", 1)
            if parent not in children:
                raise GeneratorError(f"{name}: element {path} comes before its parent")
            choice = element_name.endswith("[x]")
            if choice:
                element_name = element_name[:-3]
            types = [type_code(t) for t in e.get("type", [])]
            if "contentReference" in e:
                ref = e["contentReference"]
                if not ref.startswith("#"):
                    raise GeneratorError(f"{path}: contentReference {ref} is not local")
                types = [ref[1:]]
            elif path in has_children and types in (["BackboneElement"], ["Element"]):
                types = [path]
                order.append(path)
                children[path] = []
            if kind == "resource" and parent == name and element_name == "id" and types == ["string"]:
                # The 4.0.1 snapshots type Resource.id as System.String with fhir-type `string`; the specification's
                # resource pages and JSON schema give it the `id` type ([A-Za-z0-9-.]{1,64}), which is what we check.
                types = ["id"]
            reps = e.get("representation", [])
            if "xhtml" in reps or types == ["xhtml"]:
                rep = "x"
            elif "xmlAttr" in reps:
                rep = "a"
            else:
                rep = "e"
            if kind == "primitive-type" and parent == name and element_name == "value":
                # A primitive's value is its JSON scalar and XML value attribute: kept as the type's pattern.
                for t in e.get("type", []):
                    pattern = ext_value(t.get("extension"), REGEX_EXT) or pattern
                continue
            if not types:
                raise GeneratorError(f"{path} has no type")
            maximum = e["max"]
            if maximum != "*" and not maximum.isdigit():
                raise GeneratorError(f"{path}: max {maximum!r}")
            children[parent].append("\t".join([
                "E", check_field(element_name, path), "1" if choice else "0", str(int(e["min"])), maximum, rep,
                ",".join(check_field(t, path) for t in types),
                # isSummary: what `_summary=true` keeps (FHIR R4 search, _summary).
                "S" if e.get("isSummary", False) else "-",
            ]))

        for type_name in order:
            if type_name != name:
                kind_letter, json_kind, type_pattern = "b", "-", ""
            elif kind == "primitive-type":
                kind_letter = "p"
                json_kind = "bool" if name == "boolean" else ("number" if name in NUMBER_PRIMITIVES else "string")
                type_pattern = pattern
            else:
                kind_letter, json_kind, type_pattern = ("r" if kind == "resource" else "c"), "-", ""
            flags = "A" if (abstract and type_name == name) else "-"
            lines.append("\t".join(["T", type_name, kind_letter, flags, json_kind, check_field(type_pattern, name)]))
            lines.extend(children[type_name])
    return lines


def render(definitions_dir):
    digests = []
    for name in FILES:
        with open(os.path.join(definitions_dir, name), "rb") as f:
            digests.append(f"//   {name}  sha256 {hashlib.sha256(f.read()).hexdigest()}")
    lines = build(definitions_dir)
    types = sum(1 for l in lines if l.startswith("T\t"))
    elements = len(lines) - types
    header = [
        "// GENERATED by scripts/generate-type-table.py -- do not edit by hand; run the script instead.",
        "//",
        "// Source: the FHIR R4 (4.0.1) StructureDefinitions of the official hl7.fhir.r4.core package,",
        "// read from ../shared/fhir-r4-definitions (see its SOURCES.md):",
        *digests,
        f"// {types} types (resources, complex and primitive types, backbone elements) and {elements} element definitions.",
        "// Format: see TypeTable.swift.",
        "",
        "extension TypeTable {",
        "    static let r4Source = #\"\"\"",
        *lines,
        "\"\"\"#",
        "}",
        "",
    ]
    return "\n".join(header)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--definitions", default=DEFAULT_DEFINITIONS, help="directory with profiles-*.json")
    parser.add_argument("--output", default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing")
    args = parser.parse_args()
    try:
        text = render(args.definitions)
    except (OSError, KeyError, ValueError, GeneratorError) as e:
        print(f"generate-type-table: {e}", file=sys.stderr)
        return 2
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except OSError as e:
            print(f"generate-type-table: {e}", file=sys.stderr)
            return 1
        if current != text:
            print(f"generate-type-table: {args.output} is out of date", file=sys.stderr)
            return 1
        print(f"generate-type-table: {os.path.relpath(args.output, REPO)} is current")
        return 0
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"generate-type-table: wrote {os.path.relpath(args.output, REPO)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
