#!/usr/bin/env python3
"""Checks the contract expression language (docs/contracts-expressions.md) against CEL.

Two checks, both through `careledger contract eval` (JSON lines in, JSON lines out):

1. cel-spec's conformance cases (the features/*.textproto files shipped in the cel-python sdist), limited to what
   the subset covers: each case's expected value, cel-python's answer and ours must agree.
2. Seeded random expressions of the subset (ints, strings, bools, lists, maps): cel-python's answer and ours must
   agree.

An error agrees with an error (the codes differ between implementations); a value must be equal, type included.
Nothing fetched is kept: the sdist is read from --sdist (or $CEL_PYTHON_SDIST), else downloaded with pip into a
temporary folder. Needs `pip install cel-python` (0.5.0 was checked).

Prints the counts (cases run, agreed, skipped by category) and exits 1 on any disagreement not listed in
KNOWN_DEVIATIONS, 2 when it cannot run.

    python3 scripts/cel-conformance.py [--careledger .build/debug/careledger] [--sdist FILE] [--generated 2000] [--seed 18]
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile

SDIST = "cel-python==0.5.0"

# The conformance files whose cases the subset can cover; the others are about protobuf messages, doubles, uints,
# bytes, timestamps, optionals or extensions, and are counted as skipped by file.
FILES = ["basic", "comparisons", "integer_math", "logic", "lists", "string", "fields", "parse", "macros",
         "conversions", "plumbing", "namespace"]

# The functions of the subset that cel-python also has (rational, min and max are this language's extensions).
FUNCTIONS = {"size", "int", "string", "has", "contains", "startsWith", "endsWith"}
MACROS = {"all", "exists", "exists_one", "map", "filter"}
TYPE_NAMES = {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"}

# Disagreements that are understood, by (file, section, test), with the reason and the side that departs from the
# spec. Every entry must still be a disagreement when the script runs, so the list cannot go stale silently.
KNOWN_DEVIATIONS = {
    # cel-python 0.5.0 predates heterogeneous equality in the spec: comparing an int with a string inside the maps
    # is an error there, false in the spec (and here).
    ("comparisons", "eq_literal", "eq_map_value_mixed_types"): "cel-python: == over values of different types is an error, the spec says false",
}


# ---------------------------------------------------------------------------------------------------------------
# Protocol buffer text format, as much as the conformance files use.

TOKEN = re.compile(r"""
    \s+ | \#[^\n]*                                   # space and comments
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<symbol>[{}\[\]:,<>;])
  | (?P<word>[A-Za-z0-9_.+\-/]+)
""", re.VERBOSE)


def unescape(body):
    """The bytes of a text-format string body (C escapes), decoded as UTF-8."""
    out = bytearray()
    i = 0
    simple = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11, "\\": 92, "'": 39, '"': 34, "?": 63}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            out.append(int(m.group(0), 16))
            i += 2 + len(m.group(0))
        elif e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        elif e == "u":
            out += chr(int(body[i + 2:i + 6], 16)).encode("utf-8")
            i += 6
        elif e == "U":
            out += chr(int(body[i + 2:i + 10], 16)).encode("utf-8")
            i += 10
        else:
            raise ValueError("unknown escape \\" + e)
    return out.decode("utf-8", errors="surrogateescape")


def tokenize(text):
    tokens = []
    pos = 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError("textproto: unexpected %r" % text[pos:pos + 20])
        pos = m.end()
        if m.group("string"):
            tokens.append(("string", unescape(m.group("string")[1:-1])))
        elif m.group("symbol"):
            tokens.append(("symbol", m.group("symbol")))
        elif m.group("word"):
            tokens.append(("word", m.group("word")))
    return tokens


def parse_message(tokens, i, close):
    """A message's fields as a list of (name, value); a nested message is itself such a list."""
    fields = []
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "symbol" and text == close:
            return fields, i + 1
        if kind == "symbol" and text in ",;":
            i += 1
            continue
        name = text
        i += 1
        if tokens[i] == ("symbol", ":"):
            i += 1
        kind, text = tokens[i]
        if kind == "symbol" and text in "{<":
            value, i = parse_message(tokens, i + 1, "}" if text == "{" else ">")
            fields.append((name, value))
        elif kind == "symbol" and text == "[":
            i += 1
            while tokens[i] != ("symbol", "]"):
                if tokens[i] == ("symbol", ","):
                    i += 1
                    continue
                if tokens[i][1] in "{<":
                    value, i = parse_message(tokens, i + 1, "}" if tokens[i][1] == "{" else ">")
                else:
                    value, i = tokens[i][1], i + 1
                fields.append((name, value))
            i += 1
        elif kind == "string":
            value = ""
            while i < len(tokens) and tokens[i][0] == "string":
                value += tokens[i][1]
                i += 1
            fields.append((name, value))
        else:
            fields.append((name, text))
            i += 1
    return fields, i


def get(fields, name):
    for k, v in fields:
        if k == name:
            return v
    return None


def get_all(fields, name):
    return [v for k, v in fields if k == name]


# ---------------------------------------------------------------------------------------------------------------
# Values, in one normal form for all three sides: ("int", n), ("string", s), ("bool", b), ("list", (...)),
# ("map", ((k, v), ...) sorted), ("rational", "p/q"), ("error",).

class Unsupported(Exception):
    """A value of a type the subset leaves out; its message is the skip category."""


def from_proto(fields):
    kind, v = fields[0]
    if kind == "int64_value":
        return ("int", int(v))
    if kind == "string_value":
        return ("string", v)
    if kind == "bool_value":
        return ("bool", v == "true")
    if kind == "list_value":
        return ("list", tuple(from_proto(x) for x in get_all(v, "values")))
    if kind == "map_value":
        entries = [(from_proto(get(e, "key")), from_proto(get(e, "value"))) for e in get_all(v, "entries")]
        return ("map", tuple(sorted(entries, key=repr)))
    raise Unsupported("value:" + kind.replace("_value", ""))


def to_json(value):
    """Bindings JSON for careledger (a map must have string keys there)."""
    kind = value[0]
    if kind in ("int", "string", "bool"):
        return value[1]
    if kind == "list":
        return [to_json(x) for x in value[1]]
    if kind == "map":
        out = {}
        for k, v in value[1]:
            if k[0] != "string":
                raise Unsupported("binding:non-string map key")
            out[k[1]] = to_json(v)
        return out
    raise Unsupported("binding:" + kind)


def from_ours(line):
    obj = json.loads(line)
    if "error" in obj:
        return ("error",), obj.get("error")

    def convert(v):
        if isinstance(v, bool):
            return ("bool", v)
        if isinstance(v, int):
            return ("int", v)
        if isinstance(v, str):
            return ("string", v)
        if isinstance(v, list):
            return ("list", tuple(convert(x) for x in v))
        if isinstance(v, dict) and "rational" in v:
            return ("rational", v["rational"])
        if isinstance(v, dict) and "map" in v:
            return ("map", tuple(sorted(((convert(k), convert(x)) for k, x in v["map"]), key=repr)))
        raise ValueError("unexpected JSON from careledger: %r" % line)
    return convert(obj["value"]), None


def celpy_value(v):
    from celpy import celtypes
    import celpy
    if isinstance(v, celpy.CELEvalError) or isinstance(v, Exception):
        return ("error",)
    if isinstance(v, celtypes.BoolType) or isinstance(v, bool):
        return ("bool", bool(v))
    if isinstance(v, (celtypes.UintType, celtypes.DoubleType, celtypes.BytesType)) or v is None:
        return ("unsupported", repr(v))
    if isinstance(v, celtypes.IntType) or isinstance(v, int):
        return ("int", int(v))
    if isinstance(v, celtypes.StringType) or isinstance(v, str):
        return ("string", str(v))
    # cel-python builds list and map literals lazily, keeping an element's error inside; in CEL the literal is
    # the error.
    if isinstance(v, (celtypes.ListType, list)):
        items = tuple(celpy_value(x) for x in v)
        return ("error",) if ("error",) in items else ("list", items)
    if isinstance(v, (celtypes.MapType, dict)):
        entries = [(celpy_value(k), celpy_value(x)) for k, x in v.items()]
        if any(("error",) in e for e in entries):
            return ("error",)
        return ("map", tuple(sorted(entries, key=repr)))
    return ("unsupported", repr(v))


def to_celpy(value):
    from celpy import celtypes
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.IntType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, list):
        return celtypes.ListType([to_celpy(x) for x in value])
    if isinstance(value, dict):
        return celtypes.MapType({celtypes.StringType(k): to_celpy(v) for k, v in value.items()})
    raise ValueError(value)


def run_celpy(expr, bindings):
    import celpy
    env = celpy.Environment()
    try:
        program = env.program(env.compile(expr))
        return celpy_value(program.evaluate({k: to_celpy(v) for k, v in bindings.items()}))
    except celpy.CELParseError:
        return ("error",)
    except celpy.CELEvalError:
        return ("error",)
    except Exception:  # cel-python raises plain Python errors for some misuses (e.g. a bad has() argument)
        return ("error",)


def fail(message):
    """Stops with exit status 2: the check could not run (as opposed to a disagreement, status 1)."""
    print(message, file=sys.stderr)
    sys.exit(2)


def run_ours(binary, requests):
    """Evaluates every {"expr", "bindings"} request with one careledger process; results in order."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)
    try:
        done = subprocess.run([binary, "contract", "eval"], input=text.encode("utf-8"), capture_output=True, timeout=600)
    except OSError as e:
        fail("cannot run %s: %s (build it with swift build, or pass --careledger)" % (binary, e))
    if done.returncode != 0:
        fail("careledger contract eval failed (%d): %s" % (done.returncode, done.stderr.decode(errors="replace")))
    lines = done.stdout.decode("utf-8").splitlines()
    if len(lines) != len(requests):
        fail("careledger gave %d results for %d expressions" % (len(lines), len(requests)))
    return [from_ours(line) for line in lines]


# ---------------------------------------------------------------------------------------------------------------
# Which conformance cases the subset covers.

CEL_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>[rR]?[bB]?[rR]?("""  + '"""' + r"""(?:.|\n)*?""" + '"""' + r"""|'''(?:.|\n)*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+[uU]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<symbol>\?\.|\?\[|==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
""", re.VERBOSE)


def expression_category(expr):
    """The reason the subset does not cover `expr`, or None."""
    if "`" in expr:
        return "quoted field name"
    tokens = []
    pos = 0
    while pos < len(expr):
        m = CEL_TOKEN.match(expr, pos)
        if not m:
            return "lexical:other"
        pos = m.end()
        if m.group("space"):
            continue
        for kind in ("string", "number", "ident", "symbol"):
            if m.group(kind) is not None:
                tokens.append((kind, m.group(kind)))
                break
    for i, (kind, text) in enumerate(tokens):
        following = tokens[i + 1][1] if i + 1 < len(tokens) else None
        previous = tokens[i - 1][1] if i > 0 else None
        if kind == "string" and re.match(r"[rR]?[bB]", text):
            return "bytes"
        if kind == "number":
            if text[-1] in "uU":
                return "uint"
            if re.search(r"[.eE]", text) and not text.lower().startswith("0x"):
                return "double"
        if kind == "symbol" and text in ("?.", "?["):
            return "optional"
        if kind == "ident":
            if text == "null":
                return "null"
            if following == "{":
                return "message"
            if following == "(":
                if text in MACROS:
                    return "comprehension"
                if text not in FUNCTIONS:
                    return "function:" + text
            elif text in TYPE_NAMES and previous != ".":
                return "type"
            if previous == "." and (i < 2 or tokens[i - 2][0] not in ("ident", "symbol", "string", "number")):
                return "qualified name"
        if kind == "symbol" and text == "." and (i == 0 or tokens[i - 1][1] in ("(", "[", ",", "{", ":", "?", "!", "-")):
            return "qualified name"
    return None


def conformance_cases(features):
    cases, skipped = [], {}

    def skip(category):
        skipped[category] = skipped.get(category, 0) + 1

    for path in sorted(os.listdir(features)):
        if not path.endswith(".textproto"):
            continue
        name = path[:-len(".textproto")]
        with open(os.path.join(features, path), encoding="utf-8") as f:
            text = f.read()
        if name not in FILES:
            for _ in re.finditer(r"^\s*test\s*\{", text, re.MULTILINE):
                skip("file:" + name)
            continue
        fields, _ = parse_message(tokenize(text), 0, None)
        for section in get_all(fields, "section"):
            for test in get_all(section, "test"):
                key = (name, get(section, "name"), get(test, "name"))
                expr = get(test, "expr")
                if get(test, "check_only") == "true":
                    skip("check only")
                    continue
                if get(test, "container"):
                    skip("container")
                    continue
                if get(test, "disable_macros") == "true":
                    skip("macros disabled")
                    continue
                category = expression_category(expr)
                if category:
                    skip(category)
                    continue
                value, error = get(test, "value"), get(test, "eval_error")
                if value is None and error is None:
                    skip("expectation:" + (test[-1][0] if test else "none"))
                    continue
                try:
                    expected = from_proto(value) if value is not None else ("error",)
                    bindings = {}
                    for b in get_all(test, "bindings"):
                        if "." in get(b, "key"):
                            raise Unsupported("binding:qualified name")
                        bindings[get(b, "key")] = to_json(from_proto(get(get(b, "value"), "value")))
                except Unsupported as e:
                    skip(str(e))
                    continue
                cases.append((key, expr, bindings, expected))
    return cases, skipped


# ---------------------------------------------------------------------------------------------------------------
# Generated expressions.

class Generator:
    """Random well-formed expressions of the subset over fixed bindings. Operands of == and < have one type, so the
    errors are CEL's own: overflow, division by zero, index out of range, missing keys.

    Four departures of cel-python 0.5.0 from the spec are kept out of the expressions rather than excused:
    a negative list index counts from the end there (Python's indexing; an error in CEL), so indexes are
    never negative; string(bool) gives "True"/"False" there ("true"/"false" in CEL), so string() takes ints and
    strings; and an error inside a list or map literal stays inside it there (has(), ==, size() and `in` then
    answer), so literal elements are atoms that cannot fail; and a concatenation is a plain Python str there, with
    no contains()/startsWith()/endsWith() (an error), so their receiver is passed through string() first."""

    BINDINGS = {
        "i": 7, "j": -3, "k": 0, "big": 4611686018427387904,
        "s": "abc", "t": "é-x", "e": "",
        "p": True, "q": False,
        "l": [1, 2, 3], "n": [], "ls": ["x", "abc", ""],
        "m": {"a": 1, "b": -2}, "mm": {"x": {"y": 5}},
    }

    def __init__(self, seed):
        self.r = random.Random(seed)

    def pick(self, *choices):
        return self.r.choice(choices)

    def int_(self, d):
        r = self.r
        if d <= 0 or r.random() < 0.2:
            return self.pick(lambda: str(r.randint(-20, 20)), lambda: self.pick("i", "j", "k", "big"),
                             lambda: self.pick("9223372036854775807", "4611686018427387904", "-9223372036854775807",
                                               "0x10", "0"))()
        which = r.randint(0, 9)
        if which <= 3:
            op = self.pick("+", "-", "*", "/", "%")
            return "(%s %s %s)" % (self.int_(d - 1), op, self.int_(d - 1))
        if which == 4:
            return "-" + self.pick("i", "(%s)" % self.int_(d - 1))
        if which == 5:
            return "size(%s)" % self.pick(self.string(d - 1), self.list_(d - 1), self.map_(d - 1))
        if which == 6:
            return "(%s ? %s : %s)" % (self.bool_(d - 1), self.int_(d - 1), self.int_(d - 1))
        if which == 7:
            return "%s[%s]" % (self.list_(d - 1), self.index(d - 1))
        if which == 8:
            return "%s.%s" % (self.map_(d - 1), self.pick("a", "b", "c"))
        return "int(%s)" % self.pick(self.int_(d - 1), '"%d"' % r.randint(-99, 99), "string(%s)" % self.int_(d - 1))

    def index(self, d):
        """A list index that is never negative (it may be out of range)."""
        return self.pick("0", "1", "2", "4", "k", "i", "size(%s)" % self.pick(self.string(d), self.list_(d)))

    def string(self, d):
        r = self.r
        if d <= 0 or r.random() < 0.25:
            return self.pick("s", "t", "e", "'a'", "\"b\"", "'é'", "''", "'abc'", "'\\n'", "r'\\n'", "'''x'''")
        which = r.randint(0, 4)
        if which <= 1:
            return "(%s + %s)" % (self.string(d - 1), self.string(d - 1))
        if which == 2:
            return "string(%s)" % self.pick(self.int_(d - 1), self.string(d - 1))
        if which == 3:
            return "(%s ? %s : %s)" % (self.bool_(d - 1), self.string(d - 1), self.string(d - 1))
        return "ls[%s]" % self.index(d - 1)

    def bool_(self, d):
        r = self.r
        if d <= 0 or r.random() < 0.15:
            return self.pick("true", "false", "p", "q")
        which = r.randint(0, 9)
        if which <= 1:
            kind = self.pick(self.int_, self.string, self.bool_)
            return "(%s %s %s)" % (kind(d - 1), self.pick("<", "<=", ">", ">=", "==", "!="), kind(d - 1))
        if which == 2:
            kind = self.pick(self.list_, self.map_)
            return "(%s %s %s)" % (kind(d - 1), self.pick("==", "!="), kind(d - 1))
        if which <= 4:
            return "(%s %s %s)" % (self.bool_(d - 1), self.pick("&&", "||"), self.bool_(d - 1))
        if which == 5:
            return "!" + self.bool_(d - 1)
        if which == 6:
            return self.pick("(%s in %s)" % (self.int_(d - 1), self.list_(d - 1)),
                             "(%s in %s)" % (self.string(d - 1), self.map_(d - 1)),
                             "(%s in ls)" % self.string(d - 1))
        if which == 7:
            return "string(%s).%s(%s)" % (self.string(d - 1), self.pick("contains", "startsWith", "endsWith"), self.string(d - 1))
        if which == 8:
            return "has(%s.%s)" % (self.pick("m", "mm", "{'a': %s}" % self.int_(0)), self.pick("a", "b", "x"))
        return "(%s ? %s : %s)" % (self.bool_(d - 1), self.bool_(d - 1), self.bool_(d - 1))

    def list_(self, d):
        r = self.r
        if d <= 0 or r.random() < 0.3:
            return self.pick("l", "n", "[1, 2]", "[]", "[0]")
        which = r.randint(0, 2)
        if which == 0:
            return "[%s]" % ", ".join(self.int_(0) for _ in range(r.randint(0, 3)))
        if which == 1:
            return "(%s + %s)" % (self.list_(d - 1), self.list_(d - 1))
        return "(%s ? %s : %s)" % (self.bool_(d - 1), self.list_(d - 1), self.list_(d - 1))

    def map_(self, d):
        r = self.r
        if d <= 0 or r.random() < 0.4:
            return self.pick("m", "mm.x", "{}", "{'a': 1}")
        keys = r.sample(["a", "b", "c"], r.randint(0, 3))
        return "{%s}" % ", ".join("'%s': %s" % (k, self.int_(0)) for k in keys)

    def expression(self):
        kind = self.pick(self.int_, self.int_, self.bool_, self.bool_, self.string, self.list_, self.map_)
        return kind(self.r.randint(1, 4))


# ---------------------------------------------------------------------------------------------------------------

def features_folder(sdist, temp):
    if not sdist:
        download = os.path.join(temp, "download")
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", SDIST,
                               "-d", download], capture_output=True)
        if done.returncode != 0:
            fail("cannot download the %s sdist: %s" % (SDIST, done.stderr.decode(errors="replace")[-500:]))
        sdist = os.path.join(download, os.listdir(download)[0])
    out = os.path.join(temp, "features")
    os.makedirs(out)
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if len(parts) == 3 and parts[1] == "features" and parts[2].endswith(".textproto") and member.isfile():
                with tar.extractfile(member) as src, open(os.path.join(out, parts[2]), "wb") as dst:
                    dst.write(src.read())
    if not os.listdir(out):
        fail("the sdist %s has no features/*.textproto" % sdist)
    return out


def show(v):
    return "error" if v == ("error",) else repr(v)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--careledger", default=".build/debug/careledger", help="the careledger binary")
    parser.add_argument("--sdist", default=os.environ.get("CEL_PYTHON_SDIST"), help="the cel-python sdist (.tar.gz)")
    parser.add_argument("--generated", type=int, default=2000, help="how many random expressions")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    try:
        import celpy  # noqa: F401
    except ImportError:
        print("cel-python is not installed: pip install cel-python", file=sys.stderr)
        sys.exit(2)

    failures = []
    with tempfile.TemporaryDirectory() as temp:
        cases, skipped = conformance_cases(features_folder(args.sdist, temp))

    ours = run_ours(args.careledger, [{"expr": e, "bindings": b} for _, e, b, _ in cases])
    agreed, deviations_seen = 0, set()
    for (key, expr, bindings, expected), (mine, code) in zip(cases, ours):
        theirs = run_celpy(expr, bindings)
        if expected == mine == theirs:
            agreed += 1
        elif key in KNOWN_DEVIATIONS and mine == expected:
            deviations_seen.add(key)
        else:
            failures.append("conformance %s: %s\n  expected %s, cel-python %s, careledger %s%s" % (
                "/".join(key), expr, show(expected), show(theirs), show(mine), " (%s)" % code if code else ""))
    for key in sorted(set(KNOWN_DEVIATIONS) - deviations_seen):
        failures.append("known deviation %s no longer seen: remove it from KNOWN_DEVIATIONS" % "/".join(key))

    generator = Generator(args.seed)
    expressions = [generator.expression() for _ in range(args.generated)]
    mine_generated = run_ours(args.careledger, [{"expr": e, "bindings": Generator.BINDINGS} for e in expressions])
    generated_agreed, generated_errors = 0, 0
    for expr, (mine, code) in zip(expressions, mine_generated):
        theirs = run_celpy(expr, Generator.BINDINGS)
        if mine == theirs:
            generated_agreed += 1
            generated_errors += mine == ("error",)
        else:
            failures.append("generated: %s\n  cel-python %s, careledger %s%s" % (expr, show(theirs), show(mine), " (%s)" % code if code else ""))

    for f in failures:
        print("DISAGREE " + f)
    print("conformance: %d run, %d agreed, %d known deviations (%s)" % (
        len(cases), agreed, len(deviations_seen), "; ".join(sorted(set(KNOWN_DEVIATIONS[k] for k in deviations_seen)))))
    print("skipped: " + ", ".join("%s %d" % (k, v) for k, v in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))))
    print("generated: %d run, %d agreed (%d of them errors on both sides), seed %d" % (
        len(expressions), generated_agreed, generated_errors, args.seed))
    print("summary: conformance_run=%d generated_run=%d disagreements=%d" % (len(cases), len(expressions), len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
