"""The case catalog: find the conformance cases in catalog folders, list them, and pick subsets by ID.

A catalog folder holds two kinds of case files (any depth; names starting with ``_`` or ``.`` are helpers
and skipped):

* **Python** files define any number of cases with the :func:`case` decorator::

      from v2gkit.testsys.catalog import case

      @case("TC_SECC_CMN_VTB_SessionSetup_001", purpose="Verify that ...",
            requirements=("V2G2-538",), protocols=("iso2", "din"), steps=("...", "..."), quick=True)
      def _(t):  # t: the Python tester API (v2gkit.testsys.script.Tester)
          ...

* **Lua** files hold one case each; its description is the leading comment block, one ``-- @tag value``
  per line (:data:`LUA_TAGS`); a ``--`` line without a tag continues the tag before it::

      -- @case TC_SECC_CMN_VTB_SessionSetup_001
      -- @purpose Verify that the SECC answers a SessionSetupReq
      --          with a new SessionID.
      -- @requirement V2G2-538, V2G2-539
      -- @protocols iso2, din
      -- @precondition The SECC waits for a SessionSetupReq.
      -- @step Send a SessionSetupReq with SessionID 00.
      -- @step Check that the ResponseCode is OK_NewSessionEstablished.
      -- @quick
      -- @needs tls
      Evcc.Send_SessionSetupReq_001()

A broken case file never stops the listing: :func:`scan_catalog` collects every problem (file and line)
beside the cases that did load; :func:`load_catalog` raises them all at once as a :class:`CatalogError`
that still carries the good cases.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .case import CASE_ID, Case

__all__ = [
    "CASES_DIR",
    "LUA_TAGS",
    "NEEDS",
    "PROTOCOLS",
    "Catalog",
    "CatalogError",
    "LuaScript",
    "Problem",
    "case",
    "filter_cases",
    "load_catalog",
    "parse_lua_header",
    "scan_catalog",
    "select",
    "unmatched_patterns",
]

#: the catalog shipped with v2gkit (the package folder ``v2gkit/testsys/cases``)
CASES_DIR = Path(__file__).resolve().parent / "cases"
_CASES_PACKAGE = __name__.rpartition(".")[0] + ".cases"

#: protocols a case may name (the families the test system negotiates)
PROTOCOLS: tuple[str, ...] = ("din", "iso2", "iso20")
#: spellings people use for them
_PROTOCOL_ALIASES = {"din70121": "din", "din-70121": "din", "iso-2": "iso2", "iso15118-2": "iso2",
                     "iso-15118-2": "iso2", "iso-20": "iso20", "iso15118-20": "iso20",
                     "iso-15118-20": "iso20"}

#: what a case may need of the SUT (Case.needs: ISO 15118-4 PICS, in short)
#: what a case may need from the SUT (ISO 15118-4 PICS, in short): the SECC offers TLS / offers no TLS,
#: a live link, paused sessions, Plug & Charge, metering receipts, MeterInfo, control-pilot control
NEEDS: tuple[str, ...] = ("tls", "notls", "live", "pause", "pnc", "receipt", "meterinfo", "cp")

#: the attribute a loaded Python case module keeps its cases in (the decorator fills it while importing)
_MODULE_CASES = "__v2gkit_cases__"
#: the attribute the decorator leaves on the function: its Case
CASE_ATTR = "case"


class CatalogError(Exception):
    """One or more case files are broken. ``problems`` says where; ``cases`` are the ones that loaded."""

    def __init__(self, problems: Sequence[Problem], cases: Sequence[Case] = ()) -> None:
        self.problems = list(problems)
        self.cases = list(cases)
        lines = [str(p) for p in self.problems]
        head = (f"{len(lines)} problem(s) in the case catalog" if len(lines) > 1
                else "problem in the case catalog")
        super().__init__(head + ":\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class Problem:
    """A case file that did not load (or clashes with another): where, and what is wrong."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


@dataclass
class Catalog:
    """What :func:`scan_catalog` found: the cases (sorted by ID) and the problems (in file order)."""

    cases: list[Case] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- Python cases


def _normalise_protocol(value: str) -> str:
    p = value.strip().lower()
    return _PROTOCOL_ALIASES.get(p, p)


def _check_protocols(protocols: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(protocols, str):
        protocols = [p for p in re.split(r"[,\s]+", protocols) if p]
    out = tuple(_normalise_protocol(p) for p in protocols)
    bad = [p for p in out if p not in PROTOCOLS]
    if bad:
        raise ValueError(f"{what}: unknown protocol(s) {', '.join(map(repr, bad))}; "
                         f"choose from {', '.join(PROTOCOLS)}")
    if not out:
        raise ValueError(f"{what}: no protocol given; name at least one of {', '.join(PROTOCOLS)}")
    return out


def _check_needs(needs: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(needs, str):
        needs = [n for n in re.split(r"[,\s]+", needs) if n]
    out = tuple(str(n).strip().lower() for n in needs)
    bad = [n for n in out if n not in NEEDS]
    if bad:
        raise ValueError(f"{what}: unknown need(s) {', '.join(map(repr, bad))}; "
                         f"choose from {', '.join(NEEDS)}")
    return out


def _kind(case_id: str) -> str:
    m = CASE_ID.match(case_id)
    if m is None:
        raise ValueError(f"{case_id!r} is not a conformance case ID (TC_<SECC|EVCC>_<AC|DC|CMN|...>_VTB_"
                         "<topic>_<3 digits>, e.g. TC_SECC_CMN_VTB_SessionSetup_001)")
    return m.group(2)


def _title(purpose: str) -> str:
    for line in purpose.splitlines():
        if line.strip():
            return line.strip()
    return ""


def make_case(case_id: str, *, purpose: str, requirements: Iterable[str] = (), protocols: Iterable[str] = (),
              preconditions: str = "", steps: Iterable[str] = (), title: str | None = None,
              quick: bool = False, from_standard: bool = True, run: Callable[[Any], Any] | None = None,
              source: str = "", needs: Iterable[str] = (), tls: str = "") -> Case:
    """A validated :class:`Case`: the ID has the ISO 15118-4 form, the purpose is there, the protocols are
    known."""
    if not isinstance(case_id, str):
        raise TypeError(f"case ID must be a str, got {type(case_id).__name__}")
    kind = _kind(case_id)
    if not isinstance(purpose, str) or not purpose.strip():
        raise ValueError(f"{case_id}: purpose is empty; say what the case verifies")
    if isinstance(requirements, str):
        requirements = [r for r in re.split(r"[,\s]+", requirements) if r]
    if isinstance(steps, str):
        steps = [steps]
    return Case(case_id=case_id, title=title if title is not None else _title(purpose),
                purpose=purpose.strip(),
                requirements=tuple(str(r).strip() for r in requirements), kind=kind,
                protocols=_check_protocols(protocols, case_id), preconditions=preconditions.strip(),
                steps=tuple(str(s).strip() for s in steps), run=run, source=source,
                from_standard=bool(from_standard), quick=bool(quick), needs=_check_needs(needs, case_id),
                tls=str(tls))


def case(case_id: str, *, purpose: str, protocols: Iterable[str], requirements: Iterable[str] = (),
         preconditions: str = "", steps: Iterable[str] = (), title: str | None = None, quick: bool = False,
         from_standard: bool = True, needs: Iterable[str] = (), tls: str = ""
         ) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Declare a conformance case; the decorated function (taking the tester) is its body.

    ``title`` defaults to the purpose's first line; ``kind`` (AC, DC, CMN, ...) comes from the ID;
    ``from_standard`` is False when the purpose was written for v2gkit rather than taken from ISO 15118-4;
    ``quick`` puts the case in the short subset CI runs against slow SUTs; ``needs`` says what the SUT must
    offer for the case to apply (:data:`NEEDS`: "tls", "live", "pause"). The function is returned as it
    is, with the :class:`Case` as its ``case`` attribute, so it can also be called from pytest.
    """
    # validate now, so a bad declaration fails at its own line
    proto = make_case(case_id, purpose=purpose, requirements=requirements, protocols=protocols,
                      preconditions=preconditions, steps=steps, title=title, quick=quick,
                      from_standard=from_standard, needs=needs, tls=tls)

    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if not callable(fn):
            raise TypeError(f"{case_id}: @case must decorate a function taking the tester, "
                            f"got {type(fn).__name__}")
        try:
            inspect.signature(fn).bind(object())
        except TypeError:
            raise TypeError(f"{case_id}: the case function must take exactly one argument (the tester)"
                            ) from None
        except ValueError:  # no signature (a builtin): trust it
            pass
        code = getattr(fn, "__code__", None)
        source = code.co_filename if code is not None else ""
        c = Case(**{**proto.__dict__, "run": fn, "source": source})
        module = sys.modules.get(getattr(fn, "__module__", "") or "")
        if module is not None:
            module.__dict__.setdefault(_MODULE_CASES, []).append((c, code.co_firstlineno if code else None))
        with contextlib.suppress(AttributeError, TypeError):  # a callable object without a __dict__
            setattr(fn, CASE_ATTR, c)
        return fn

    return register


_import_lock = threading.Lock()


def _module_name(path: Path, package_root: Path) -> tuple[str, bool]:
    """The name to import ``path`` under; True when it is a real module of the v2gkit package."""
    try:
        rel = path.relative_to(package_root)
    except ValueError:
        rel = None
    if rel is not None:
        parts = [*rel.parts[:-1], rel.stem]
        if all(p.isidentifier() for p in parts):
            return ".".join([_CASES_PACKAGE, *parts]), True
    digest = hashlib.sha1(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    return f"_v2gkit_catalog_{digest}_{stem}", False


def _error_line(exc: BaseException, path: Path) -> int | None:
    """The line of ``path`` the error came from: the SyntaxError's, else the last traceback frame there."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == path:
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno
    if line is None and isinstance(exc, SyntaxError):
        return exc.lineno
    return line


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _load_python(path: Path, package_root: Path) -> tuple[list[tuple[Case, int | None]], Problem | None]:
    name, real = _module_name(path, package_root)
    with _import_lock:
        try:
            if real:
                module = importlib.import_module(name)
            else:
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    return [], Problem(str(path), None, "cannot be imported as a Python file")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module  # dataclasses and pickling look modules up here
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(name, None)
                    raise
        except (KeyboardInterrupt, SystemExit) as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            return [], Problem(str(path), _error_line(e, path),
                               f"calls exit() while being imported ({e.code!r})")
        except BaseException as e:  # noqa: BLE001 - any error in a case file is that file's problem
            return [], Problem(str(path), _error_line(e, path), _describe(e))
    found = list(module.__dict__.get(_MODULE_CASES, ()))
    if not found:
        return [], Problem(str(path), None, "defines no case (use @case(...); a helper module's name "
                                            "must start with '_')")
    return found, None


# ------------------------------------------------------------------------------------------------- Lua cases

#: the tags of a Lua case's header: tag -> (Case field, may repeat)
LUA_TAGS: dict[str, tuple[str, bool]] = {
    "case": ("case_id", False),
    "title": ("title", False),
    "purpose": ("purpose", False),
    "requirement": ("requirements", True),
    "requirements": ("requirements", True),
    "protocols": ("protocols", True),
    "protocol": ("protocols", True),
    "precondition": ("preconditions", True),
    "preconditions": ("preconditions", True),
    "step": ("steps", True),
    "quick": ("quick", False),
    "needs": ("needs", True),
    "v2gkit": ("from_standard", False),  # the purpose was written for v2gkit, not taken from ISO 15118-4
}

_TAG = re.compile(r"^@([A-Za-z][\w-]*)\s*(.*)$")


@dataclass(frozen=True)
class LuaScript:
    """A Lua case's body: runs the file through the Lua binding (imported only when a case runs)."""

    path: str

    def __call__(self, tester: Any) -> Any:
        from .lua import run_script  # the lead's binding; lupa is only needed when a Lua case runs

        return run_script(tester, self.path)


class _HeaderError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def parse_lua_header(text: str) -> dict[str, Any]:
    """The tags of a Lua case's leading comment block, as :func:`make_case` keywords (``line`` of ``@case``
    included). Raises ValueError with ``.line`` for an unknown or repeated tag."""
    values: dict[str, Any] = {}
    current: tuple[str, int] | None = None  # (field, index of the list entry or -1)
    case_line: int | None = None
    started = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if number == 1 and line.startswith("#!"):
            continue
        if not line.startswith("--"):
            if not line and not started:
                continue
            break
        if line.startswith("--[["):
            break  # a block comment is the script's business
        started = True
        body = line.lstrip("-").strip()
        m = _TAG.match(body)
        if m is None:
            if current is not None and body:  # continuation of the tag before
                fld, idx = current
                if idx >= 0:
                    values[fld][idx] += "\n" + body
                elif isinstance(values.get(fld), str):
                    values[fld] += "\n" + body
            elif not body:
                current = None  # an empty comment line ends the tag
            continue
        tag, value = m.group(1).lower(), m.group(2).strip()
        if tag not in LUA_TAGS:
            raise _HeaderError(number, f"unknown tag @{m.group(1)}; known: "
                                       + ", ".join("@" + t for t in LUA_TAGS))
        fld, repeats = LUA_TAGS[tag]
        if fld == "quick":
            values["quick"] = True
            current = None
        elif fld == "from_standard":
            values["from_standard"] = False
            current = None
        elif fld in ("requirements", "protocols", "needs"):
            values.setdefault(fld, []).extend(v for v in re.split(r"[,\s]+", value) if v)
            current = None
        elif fld in ("steps", "preconditions"):
            values.setdefault(fld, []).append(value)
            current = (fld, len(values[fld]) - 1)
        else:
            if fld in values:
                raise _HeaderError(number, f"@{tag} is given twice")
            values[fld] = value
            current = (fld, -1)
            if fld == "case_id":
                case_line = number
    if "preconditions" in values:
        values["preconditions"] = "\n".join(values["preconditions"])
    if case_line is not None:
        values["line"] = case_line
    return values


def _load_lua(path: Path) -> tuple[list[tuple[Case, int | None]], Problem | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return [], Problem(str(path), None, f"cannot be read: {e}")
    try:
        fields = parse_lua_header(text)
    except _HeaderError as e:
        return [], Problem(str(path), e.line, str(e))
    if "case_id" not in fields:
        return [], Problem(str(path), 1, "no '-- @case TC_...' line in the leading comment block (a Lua "
                                         "helper that is not a case must have a name starting with '_')")
    line = fields.pop("line", None)
    case_id = fields.pop("case_id")
    if "protocols" not in fields:
        return [], Problem(str(path), line,
                           f"{case_id}: no '-- @protocols ...' line (e.g. '-- @protocols iso2, din')")
    try:
        c = make_case(case_id, **{"purpose": "", **fields}, run=LuaScript(str(path)), source=str(path))
    except (TypeError, ValueError) as e:
        return [], Problem(str(path), line, str(e))
    return [(c, line)], None


# ------------------------------------------------------------------------------------------------ the catalog


def _case_files(folder: Path) -> list[Path]:
    out: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.startswith((".", "_")):
                continue
            if name.endswith((".py", ".lua")):
                out.append(Path(root, name).resolve())
    return out


def scan_catalog(folders: Iterable[str | os.PathLike[str]] | None = None, *, builtin: bool = True) -> Catalog:
    """Load every case file of the shipped catalog (unless ``builtin`` is False) and of ``folders``.

    Never raises for a broken case file: each becomes a :class:`Problem` naming the file and line. Two cases
    with one ID are a problem naming both places (the first, in file order, is kept)."""
    roots: list[tuple[Path, bool]] = []
    if builtin:
        roots.append((CASES_DIR, False))
    for f in folders or ():
        roots.append((Path(f).resolve(), True))
    catalog = Catalog()
    seen_files: set[Path] = set()
    where: dict[str, tuple[str, int | None]] = {}
    for root, must_exist in roots:
        if not root.is_dir():
            if must_exist:
                what = "does not exist" if not root.exists() else "is not a folder"
                catalog.problems.append(Problem(str(root), None, f"catalog folder {what}"))
            continue
        for path in _case_files(root):
            if path in seen_files:
                continue
            seen_files.add(path)
            found, problem = _load_python(path, CASES_DIR) if path.suffix == ".py" else _load_lua(path)
            if problem is not None:
                catalog.problems.append(problem)
            for c, line in found:
                src = c.source or str(path)
                if c.case_id in where:
                    first, first_line = where[c.case_id]
                    a = first if first_line is None else f"{first}:{first_line}"
                    b = src if line is None else f"{src}:{line}"
                    catalog.problems.append(Problem(src, line, f"duplicate case ID {c.case_id} (also in {a}; "
                                                                f"every case needs its own ID: {a} and {b})"))
                    continue
                where[c.case_id] = (src, line)
                catalog.cases.append(c)
    catalog.cases.sort(key=lambda c: c.case_id)
    return catalog


def load_catalog(folders: Iterable[str | os.PathLike[str]] | None = None, *, builtin: bool = True
                 ) -> list[Case]:
    """All cases, sorted by ID; raises :class:`CatalogError` (listing every problem, carrying the good
    cases in ``.cases``) if any case file is broken or two cases share an ID."""
    catalog = scan_catalog(folders, builtin=builtin)
    if catalog.problems:
        raise CatalogError(catalog.problems, catalog.cases)
    return catalog.cases


# -------------------------------------------------------------------------------------------------- selecting

_GLOB = re.compile(r"[*?\[]")


def _matcher(pattern: str) -> Callable[[str], bool]:
    p = pattern.strip().lower()
    if _GLOB.search(p):
        return lambda case_id: fnmatch.fnmatchcase(case_id.lower(), p)
    return lambda case_id: p in case_id.lower()


def select(cases: Iterable[Case], patterns: str | Iterable[str] | None) -> list[Case]:
    """The cases whose ID matches any pattern, in their order. A pattern with ``*``, ``?`` or ``[`` is
    shell-style and matches the whole ID (``TC_SECC_*_SessionSetup_*``); any other is a substring
    (``SessionSetup``). Case-insensitive. No patterns (None, empty): all cases."""
    if isinstance(patterns, str):
        patterns = [patterns]
    matchers = [_matcher(p) for p in patterns or () if p.strip()]
    if not matchers:
        return list(cases)
    return [c for c in cases if any(m(c.case_id) for m in matchers)]


def unmatched_patterns(cases: Iterable[Case], patterns: str | Iterable[str] | None) -> list[str]:
    """The patterns that match no case (worth a warning: a typo selects nothing)."""
    if isinstance(patterns, str):
        patterns = [patterns]
    ids = [c.case_id for c in cases]
    return [p for p in patterns or () if p.strip() and not any(_matcher(p)(i) for i in ids)]


def _role(value: str, what: str) -> str:
    r = value.strip().lower()
    if r not in ("secc", "evcc"):
        raise ValueError(f"{what} must be 'secc' or 'evcc', got {value!r}")
    return r


def filter_cases(cases: Iterable[Case], *, sut_role: str | None = None, tester_role: str | None = None,
                 protocol: str | None = None, kind: str | None = None, quick: bool | None = None
                 ) -> list[Case]:
    """Narrow a case list: ``sut_role`` "secc" keeps the ``TC_SECC_*`` cases (they test a charger; the tester
    plays the EVCC) and ``tester_role`` is the same seen from the tester; ``protocol`` keeps cases that
    apply to din/iso2/iso20; ``kind`` AC/DC/CMN/...; ``quick`` the CI subset (True) or the rest (False)."""
    out = list(cases)
    if sut_role is not None:
        r = _role(sut_role, "sut_role")
        out = [c for c in out if c.sut_role == r]
    if tester_role is not None:
        r = _role(tester_role, "tester_role")
        out = [c for c in out if c.role == r]
    if protocol is not None:
        p = _normalise_protocol(protocol)
        if p not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
        out = [c for c in out if p in c.protocols]
    if kind is not None:
        k = kind.strip().upper()
        out = [c for c in out if c.kind == k]
    if quick is not None:
        out = [c for c in out if c.quick == quick]
    return out
