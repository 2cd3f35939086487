"""``python -m v2gkit.testsys.api.generate [--schemas DIR] [--out DIR]``: regenerate the script API tables.

The tables are read from the codec generator's IR (:class:`v2gkit.codegen.ir.SchemaIR`), so the script API
names exactly the elements, attributes and Python attributes the generated codecs have. One table module per
schema set (``tables/<set>.py``), holding the *type graph* of everything a message can contain:

* ``S``: simple types, ``(kind, lo, hi, min_len, max_len, codec enum class, XSD type name, literals)``;
  kind is one of enum nbit uint int bool string hex b64 (decimal/float do not occur in the V2G schemas).
* ``T``: complex types by codec class name: ``(simple content: index into S or None, children)``; a child is
  ``(name, python attribute, "e"|"a", minOccurs, maxOccurs or None, type, choice group, abstract)`` where
  type is a class name in T or an index into S, and children of one choice share the group number.
* ``M``: message element -> ``(class, BodyType attribute)`` (the attribute only for DIN/ISO-2, whose
  messages sit in ``V2G_Message.Body``; ISO-20 and app handshake messages are documents themselves).
* ``HEADER``: the class of ``V2G_Message.Header`` (DIN/ISO-2); ISO-20 headers are each message's own
  ``Header`` child.

The field tree of a message is this graph unfolded from its class (:class:`.model.MessageTree`). A recursive
content model would be a cycle in the graph; unfolding stops at ``MAX_DEPTH`` levels below the message
element. The V2G schemas have none (xmldsig's recursive parts hide behind wildcards, which carry no fields):
their deepest path has 9 levels, and a test keeps every tree short of the bound.
"""

from __future__ import annotations

import argparse
import pprint
import sys
import time
from pathlib import Path
from typing import Any

COMMAND = "python -m v2gkit.testsys.api.generate --schemas ../shared/schemas"
DEFAULT_SCHEMAS = Path("../shared/schemas")
PACKAGE = Path(__file__).resolve().parent
DEFAULT_OUT = PACKAGE / "tables"
DOCS = PACKAGE.parents[3] / "docs" / "script-api.md"

#: schema set (module name) -> the user-facing family name (v2gkit.exi.SCHEMAS)
SETS: dict[str, str] = {
    "apphand": "apphand", "din": "din", "iso2": "iso2", "iso20": "iso20", "iso20_ac": "iso20-ac",
    "iso20_dc": "iso20-dc", "iso20_wpt": "iso20-wpt", "iso20_acdp": "iso20-acdp",
}
#: unfolding stops here (levels below the message element); the deepest V2G path has 9
MAX_DEPTH = 16

_KINDS = {"enum", "nbit", "uint", "int", "bool", "string", "hex", "b64", "decimal", "float"}


class _Collector:
    """Walks the IR from the messages and numbers the simple types and complex types it meets."""

    def __init__(self, ir: Any) -> None:
        self.ir = ir
        self.simple: list[tuple] = []
        self.simple_index: dict[tuple, int] = {}
        self.types: dict[str, tuple] = {}

    def simple_ref(self, st: Any) -> int:
        if st.kind not in _KINDS:
            raise ValueError(f"simple type kind {st.kind!r} has no script mapping")
        row = (st.kind, st.lo, st.hi, st.min_len, st.max_len, st.enum_name if st.kind == "enum" else "",
               st.xsd_name, tuple(st.enum_values))
        i = self.simple_index.get(row)
        if i is None:
            i = self.simple_index[row] = len(self.simple)
            self.simple.append(row)
        return i

    def complex_ref(self, ct: Any) -> str:
        from v2gkit.codegen.ir import ComplexT

        if ct.name in self.types:  # done, or in progress: a recursive model is just a cycle in the graph
            return ct.name
        self.types[ct.name] = ()  # placeholder: keeps the insertion order = first reached
        children = []
        for f in ct.fields:
            if f.kind == "value":
                continue
            if f.kind == "attr":
                children.append((f.xsd, f.py, "a", 1 if f.required else 0, 1, self.simple_ref(f.type), -1, 0))
                continue
            if ct.glushkov is not None:
                mn, mx, group, abstract = 0, (None if f.is_list else 1), f.item_index, 0
            else:
                item = ct.items[f.item_index]
                decl = item.alts[f.alt_index]
                mn, mx, group, abstract = item.min, item.max, f.item_index, int(decl.abstract)
            t = self.complex_ref(f.type) if isinstance(f.type, ComplexT) else self.simple_ref(f.type)
            children.append((f.xsd, f.py, "e", mn, mx, t, group, abstract))
        simple = self.simple_ref(ct.simple) if ct.simple is not None else None
        self.types[ct.name] = (simple, tuple(children))
        return ct.name


def api_message_name(element: str) -> str:
    """The script API's spelling of a message element: the app handshake's lower-case names capitalised."""
    return element[:1].upper() + element[1:]


def collect(name: str, schemas: Path) -> dict[str, Any]:
    """The table data of one schema set, straight from the codec IR."""
    from v2gkit.codegen.__main__ import SCHEMA_SETS
    from v2gkit.codegen.ir import SchemaIR

    ir = SchemaIR(name, schemas / SCHEMA_SETS[name])
    col = _Collector(ir)
    messages: dict[str, tuple[str, str, str]] = {}
    header = ""
    v2g = [d for d in ir.doc_elements if d.local == "V2G_Message"]
    if v2g:  # DIN / ISO-2: the messages are the Body's substitution group
        fields = {f.xsd: f for f in v2g[0].type.fields}
        header = col.complex_ref(fields["Header"].type)
        for f in fields["Body"].type.fields:
            decl = fields["Body"].type.items[f.item_index].alts[f.alt_index]
            if decl.abstract or not f.xsd.endswith(("Req", "Res")):
                continue
            messages[api_message_name(f.xsd)] = (col.complex_ref(f.type), f.py, f.xsd)
    else:  # ISO-20, app handshake: each message is a document
        for d in ir.doc_elements:
            if d.local.endswith(("Req", "Res")):
                messages[api_message_name(d.local)] = (col.complex_ref(d.type), "", d.local)
    return {"schema": SETS[name], "source": SCHEMA_SETS[name], "simple": col.simple, "types": col.types,
            "messages": dict(sorted(messages.items())), "header": header}


def _fmt(obj: Any) -> str:
    return pprint.pformat(obj, width=118, sort_dicts=False, compact=True)


def render(name: str, data: dict[str, Any]) -> str:
    """The text of a table module."""
    msgs = {k: (v[0], v[1]) for k, v in data["messages"].items()}
    elements = {k: v[2] for k, v in data["messages"].items() if v[2] != k}
    lines = [
        f'"""generated by `{COMMAND}` from {data["source"]}: do not edit.',
        "",
        f'Script API table of schema set "{data["schema"]}" (layout: v2gkit.testsys.api.generate).',
        '"""',
        "# fmt: off",
        "# ruff: noqa",
        f"SCHEMA = {data['schema']!r}",
        f"HEADER = {data['header']!r}",
        "#: message -> (class, BodyType attribute)",
        f"M = {_fmt(msgs)}",
        "#: message -> schema element name, where they differ",
        f"ELEMENT = {_fmt(elements)}",
        "#: (kind, lo, hi, min_len, max_len, codec enum class, XSD type, literals)",
        f"S = {_fmt(tuple(data['simple']))}",
        "#: class -> (simple content, ((name, attribute, e|a, min, max, type, group, abstract), ...))",
        f"T = {_fmt(data['types'])}",
        "",
    ]
    return "\n".join(lines)


def generate(name: str, schemas: Path) -> str:
    return render(name, collect(name, schemas))


# ------------------------------------------------------------------ docs: the function count table

COUNT_BEGIN = "<!-- function counts: generated by python -m v2gkit.testsys.api.generate; do not edit -->"
COUNT_END = "<!-- end of function counts -->"


def count_table(tables: dict[str, Any] | None = None) -> str:
    """The markdown table of function counts per family and role (from ``tables`` or the committed ones)."""
    from .names import Registry, all_functions

    reg = Registry(tables) if tables is not None else None
    rows = ["| family | messages | role | functions | Get | Set | Specified | Count | Add | Exist | Check |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for family in ("din", "iso2", "iso20"):  # every ISO-20 family names the same -20 messages
        for role in ("secc", "evcc"):
            fns = list(all_functions(family, role, registry=reg))
            by: dict[str, int] = {}
            for f in fns:
                key = {"Specified": "Specified", "Count": "Count"}.get(f.leaf, f.kind)
                by[key] = by.get(key, 0) + 1
            nmsg = len({f.message for f in fns})
            rows.append(f"| {family} | {nmsg} | {role} | {len(fns)} | {by.get('Get', 0)} | {by.get('Set', 0)} | "
                        f"{by.get('Specified', 0)} | {by.get('Count', 0)} | {by.get('Add', 0)} | "
                        f"{by.get('Exist', 0)} | {by.get('Check', 0)} |")
    return "\n".join(rows)


def with_counts(doc: str, table: str) -> str:
    """``doc`` with the text between the count markers replaced by ``table``."""
    if COUNT_BEGIN not in doc or COUNT_END not in doc:
        raise ValueError(f"{DOCS} lacks the count markers ({COUNT_BEGIN} ... {COUNT_END})")
    head, rest = doc.split(COUNT_BEGIN, 1)
    _, tail = rest.split(COUNT_END, 1)
    return f"{head}{COUNT_BEGIN}\n{table}\n{COUNT_END}{tail}"


def load_rendered(texts: dict[str, str]) -> dict[str, Any]:
    """Table modules' namespaces from their texts (what the resolver reads), without importing them."""
    out = {}
    for name, text in texts.items():
        ns: dict[str, Any] = {}
        exec(compile(text, f"<tables/{name}.py>", "exec"), ns)  # noqa: S102 - our own generated literals
        out[SETS[name]] = ns
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m v2gkit.testsys.api.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--schemas", type=Path, default=DEFAULT_SCHEMAS,
                    help="folder with apphand/ din/ iso2/ iso20/ xmldsig/ (default ../shared/schemas)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder of the table modules")
    ap.add_argument("--docs", type=Path, default=DOCS,
                    help="markdown file whose function count table is refreshed (default docs/script-api.md); "
                         "'-' skips it")
    args = ap.parse_args(argv)
    if not (args.schemas / "iso2").is_dir():
        print(f"error: no schemas at {args.schemas} (expected {args.schemas}/iso2/...); pass --schemas DIR",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    texts = {}
    for name in SETS:
        t = time.perf_counter()
        text = texts[name] = generate(name, args.schemas)
        (args.out / f"{name}.py").write_text(text)
        print(f"{name}: {len(text) / 1024:.1f} KiB in {time.perf_counter() - t:.2f} s")
    init = args.out / "__init__.py"
    if not init.exists():
        init.write_text('"""Generated script API tables (see v2gkit.testsys.api.generate)."""\n')
    if str(args.docs) != "-":
        if args.docs.exists():
            args.docs.write_text(with_counts(args.docs.read_text(), count_table(load_rendered(texts))))
            print(f"{args.docs}: function counts refreshed")
        else:
            print(f"note: {args.docs} not found; function counts not written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
