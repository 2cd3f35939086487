"""XML and JSON forms of messages, keyed by XSD element names.

The JSON form is the one EXIficient-based tools (Josev) use: XSD names as keys, an
element with maxOccurs > 1 always an array, hexBinary as upper-case hex, base64Binary
as base64, simple content with attributes as ``{"Id": ..., "value": ...}``, an empty
complex type as ``{}``; DIN/ISO-2 documents under ``V2G_Message``, app handshake and
-20 documents under their message element.
"""

from __future__ import annotations

import base64
import enum
import json
import re
import xml.etree.ElementTree as ET
from types import ModuleType
from typing import Any

from .api import _module_of, fragment_index, fragment_names, schema_module
from .errors import ExiEncodeError
from .runtime import parse_text

# --------------------------------------------------------------------- values


def _simple_to_json(spec: tuple, v: Any) -> Any:
    kind = spec[0]
    if kind == "hex":
        return bytes(v).hex().upper()
    if kind == "b64":
        return base64.b64encode(bytes(v)).decode("ascii")
    if kind == "enum":
        return spec[3]._xsd[int(v)]
    if isinstance(v, enum.Enum):
        return v.value
    return v


def _simple_from_json(spec: tuple, v: Any, path: str) -> Any:
    kind = spec[0]
    try:
        if kind in ("hex", "b64", "enum"):
            if not isinstance(v, str):
                raise ValueError(f"expected a string, got {type(v).__name__}")
            return parse_text(spec, v)
        if kind == "bool":
            if not isinstance(v, bool):
                raise ValueError(f"expected true/false, got {v!r}")
            return v
        if kind in ("nbit", "uint", "int"):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"expected an integer, got {v!r}")
            return v
        if kind == "string":
            if not isinstance(v, str):
                raise ValueError(f"expected a string, got {type(v).__name__}")
            return v
    except ValueError as e:
        raise ExiEncodeError(str(e), path) from None
    raise ExiEncodeError(f"{kind} values are not supported", path)


def _simple_to_text(spec: tuple, v: Any) -> str:
    j = _simple_to_json(spec, v)
    if isinstance(j, bool):
        return "true" if j else "false"
    return str(j)


# --------------------------------------------------------------------- JSON


def to_dict(obj: Any, mod: ModuleType | None = None) -> Any:
    """The JSON-ready content of one element (without its name)."""
    mod = mod or _module_of(obj)
    meta = mod.META[type(obj)]
    out: dict[str, Any] = {}
    for py, xsd, _ns, kind, t, is_list, _req, _max, _g, _min in meta:
        v = getattr(obj, py)
        if v is None or (is_list and not v):
            continue
        conv = (lambda x: to_dict(x, mod)) if isinstance(t, type) else (lambda x, t=t: _simple_to_json(t, x))
        out[xsd] = [conv(x) for x in v] if is_list else conv(v)
    return out


def _root_name(mod: ModuleType, obj: Any, element: str | None) -> str:
    if element:
        return element
    names = mod.ROOT_OF.get(type(obj))
    if names and len(names) == 1:
        return names[0]
    raise ExiEncodeError(f"say which element {type(obj).__name__} is: pass element=")


def to_json_obj(obj: Any, element: str | None = None) -> dict[str, Any]:
    mod = _module_of(obj)
    return {_root_name(mod, obj, element): to_dict(obj, mod)}


def to_json(obj: Any, element: str | None = None, indent: int | None = None) -> str:
    """JSON text ``{"<root element>": {...}}`` of a message or fragment element."""
    return json.dumps(to_json_obj(obj, element), indent=indent, separators=None if indent else (",", ":"))


def from_dict(cls: type, d: Any, mod: ModuleType, path: str) -> Any:
    if not isinstance(d, dict):
        raise ExiEncodeError(f"expected an object, got {type(d).__name__}", path)
    meta = mod.META[cls]
    known = {m[1] for m in meta}
    for k in d:
        if k not in known:
            raise ExiEncodeError(f"unknown element or attribute {k!r} (allowed: {', '.join(sorted(known)) or 'none'})",
                                 path)
    kwargs: dict[str, Any] = {}
    for py, xsd, _ns, _kind, t, is_list, _req, _max, _g, _min in meta:
        if xsd not in d:
            continue
        v = d[xsd]
        here = f"{path}.{xsd}"

        def conv(x: Any, p: str, t: Any = t) -> Any:
            if isinstance(t, type):
                return from_dict(t, x, mod, p)
            return _simple_from_json(t, x, p)

        if is_list:
            if not isinstance(v, list):
                v = [v]
            kwargs[py] = [conv(x, f"{here}[{i}]") for i, x in enumerate(v)]
        else:
            kwargs[py] = conv(v, here)
    return cls(**kwargs)


def _find_root(mod: ModuleType, name: str, fragment: bool) -> Any:
    if fragment:
        return mod.FRAG_ELEMENTS[fragment_index(mod, name)][4]
    for row in mod.DOC_ELEMENTS:
        if row[0] == name:
            return row[4]
    raise ExiEncodeError(f"no global element {name!r} in schema {mod.SCHEMA}")


def from_json(data: str | bytes | dict, schema: str, fragment: bool = False) -> tuple[str, Any]:
    """Parse ``{"<element>": {...}}``; return (element name, object)."""
    mod = schema_module(schema)
    d = json.loads(data) if isinstance(data, (str, bytes)) else data
    if not isinstance(d, dict) or len(d) != 1:
        raise ExiEncodeError('expected one root key, e.g. {"V2G_Message": {...}}')
    (name, body), = d.items()
    t = _find_root(mod, name, fragment)
    if isinstance(t, type):
        return name, from_dict(t, body, mod, name)
    return name, _simple_from_json(t, body, name)


# --------------------------------------------------------------------- XML


def _qn(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}" if ns else local


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_ESC = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESC = str.maketrans({"&": "&amp;", "<": "&lt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;",
                           "\t": "&#9;"})


def _xml_text(text: str, path: str) -> str:
    m = _XML_BAD.search(text)
    if m:
        raise ExiEncodeError(f"character U+{ord(m.group()):04X} cannot be written in XML 1.0; "
                             "use the JSON form (--format json)", path)
    return text


class _XmlWriter:
    """A small serializer: exact escaping (CR survives as &#13;), prefixes per namespace."""

    def __init__(self, mod: ModuleType) -> None:
        self.mod = mod
        self.prefixes: dict[str, str] = {}
        self.out: list[str] = []

    def tag(self, ns: str, local: str) -> str:
        if not ns:
            return local
        p = self.prefixes.get(ns)
        if p is None:
            p = self.prefixes[ns] = _PREFIXES.get(ns, f"ns{len(self.prefixes)}")
        return f"{p}:{local}"

    def element(self, obj: Any, ns: str, local: str, path: str, ind: str) -> None:
        out = self.out
        meta = self.mod.META[type(obj)]
        tag = self.tag(ns, local)
        attrs = []
        text = None
        children: list[tuple[Any, Any, str, str, str]] = []
        for py, xsd, fns, kind, t, is_list, _req, _max, _g, _min in meta:
            v = getattr(obj, py)
            if v is None:
                continue
            here = f"{path}.{xsd}"
            if kind == "attr":
                val = _xml_text(_simple_to_text(t, v), here).translate(_ATTR_ESC)
                attrs.append(f' {self.tag(fns, xsd) if fns else xsd}="{val}"')
            elif kind == "value":
                text = _xml_text(_simple_to_text(t, v), path)
            else:
                for x in (v if is_list else [v]):
                    children.append((x, t, fns, xsd, here))
        out.append(f"{ind}<{tag}")
        out.append("".join(attrs))
        if text is not None:
            out.append(f">{text.translate(_TEXT_ESC)}</{tag}>\n")
        elif not children:
            out.append("/>\n")
        else:
            out.append(">\n")
            for x, t, fns, xsd, here in children:
                if isinstance(t, type):
                    self.element(x, fns, xsd, here, ind + "  ")
                else:
                    ctag = self.tag(fns, xsd)
                    txt = _xml_text(_simple_to_text(t, x), here).translate(_TEXT_ESC)
                    out.append(f"{ind}  <{ctag}>{txt}</{ctag}>\n")
            out.append(f"{ind}</{tag}>\n")


_PREFIXES = {
    "urn:iso:15118:2:2013:MsgDef": "v2gci_d", "urn:iso:15118:2:2013:MsgHeader": "v2gci_h",
    "urn:iso:15118:2:2013:MsgBody": "v2gci_b", "urn:iso:15118:2:2013:MsgDataTypes": "v2gci_t",
    "urn:din:70121:2012:MsgDef": "din_d", "urn:din:70121:2012:MsgHeader": "din_h",
    "urn:din:70121:2012:MsgBody": "din_b", "urn:din:70121:2012:MsgDataTypes": "din_t",
    "http://www.w3.org/2000/09/xmldsig#": "xmlsig",
    "urn:iso:15118:2:2010:AppProtocol": "app",
    "urn:iso:std:iso:15118:-20:CommonTypes": "ct", "urn:iso:std:iso:15118:-20:CommonMessages": "cm",
    "urn:iso:std:iso:15118:-20:AC": "ac", "urn:iso:std:iso:15118:-20:DC": "dc",
    "urn:iso:std:iso:15118:-20:WPT": "wpt", "urn:iso:std:iso:15118:-20:ACDP": "acdp",
}


def to_xml(obj: Any, element: str | None = None, fragment: bool = False) -> str:
    """XML text of a message (or fragment element), indented, namespaces declared on the root."""
    mod = _module_of(obj)
    name = _root_name(mod, obj, element)
    if fragment:
        ns, name = mod.FRAG_ELEMENTS[fragment_index(mod, name)][1::-1]
    else:
        ns = next((r[1] for r in mod.DOC_ELEMENTS if r[0] == name), "")
    w = _XmlWriter(mod)
    w.element(obj, ns, name, name, "")
    decls = "".join(f' xmlns:{p}="{u}"' for u, p in sorted(w.prefixes.items(), key=lambda x: x[1]))
    w.out[0] += decls  # out[0] is "<root-tag": the declarations go on the root start tag
    return "".join(w.out).rstrip("\n")


def _from_elem(cls: type, el: ET.Element, mod: ModuleType, path: str) -> Any:
    meta = mod.META[cls]
    kwargs: dict[str, Any] = {}
    by_tag = {(m[2], m[1]): m for m in meta if m[3] == "elem"}
    by_attr = {(m[2], m[1]): m for m in meta if m[3] == "attr"}
    for k, v in el.attrib.items():
        ns, _, local = k[1:].partition("}") if k.startswith("{") else ("", "", k)
        m = by_attr.get((ns, local))
        if m is None:
            raise ExiEncodeError(f"unknown attribute {local!r}", path)
        kwargs[m[0]] = _parse_text(m[4], v, f"{path}@{local}")
    value_meta = next((m for m in meta if m[3] == "value"), None)
    if value_meta is not None:
        kwargs[value_meta[0]] = _parse_text(value_meta[4], el.text or "", path)
    for child in el:
        tag = child.tag
        ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        m = by_tag.get((ns, local))
        if m is None:
            raise ExiEncodeError(f"unexpected element {local!r}", path)
        py, t, is_list = m[0], m[4], m[5]
        here = f"{path}.{local}"
        v = (_from_elem(t, child, mod, here) if isinstance(t, type)
             else _parse_text(t, child.text or "", here))
        if is_list:
            kwargs.setdefault(py, []).append(v)
        else:
            kwargs[py] = v
    return cls(**kwargs)


def _parse_text(spec: tuple, text: str, path: str) -> Any:
    try:
        return parse_text(spec, text)
    except ValueError as e:
        raise ExiEncodeError(str(e), path) from None


def from_xml(text: str | bytes, schema: str, fragment: bool = False) -> tuple[str, Any]:
    """Parse XML of a message (or fragment element); return (element name, object)."""
    mod = schema_module(schema)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ExiEncodeError(f"not well-formed XML: {e}") from None
    tag = root.tag
    ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    name = local
    if fragment:  # the tag's namespace tells a shared local name apart
        names, _ = fragment_names(mod)
        name = names[fragment_index(mod, f"{{{ns}}}{local}" if ns else local)]
    t = _find_root(mod, name, fragment)
    if isinstance(t, type):
        return name, _from_elem(t, root, mod, local)
    return name, _parse_text(t, root.text or "", local)
