"""What every command shares about its options: the value types, the one-line usage errors and ``--config``.

Every value is checked where it is read, on the command line by its click type and in a TOML file by the
same type (or, for the simulator and machine tables, by the setting's annotation), so a bad value is a
usage error (exit status 2) with one line that names the option or the key.
"""

from __future__ import annotations

import enum
import inspect
import math
import sys
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click


class Number(click.FloatRange):
    """A float in a range; NaN is none (click's FloatRange lets it through: NaN compares false)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if math.isnan(rv):
            self.fail(f"{value!r} is not a number", param, ctx)
        return rv


class Count(click.IntRange):
    """A whole number in a range."""

    name = "integer"


PORT = Count(1, 65535)
SOC = Number(0.0, 100.0)
#: a timeout: more than nothing, at most a day (infinity and NaN are no timeouts)
SECONDS = Number(min=0.0, min_open=True, max=86400.0)
#: a pause between requests: 0 (as fast as possible) up to a minute
INTERVAL = Number(min=0.0, max=60.0)
COUNT = Count(min=1)


class ProtocolsType(click.ParamType):
    """``iso2,din``: known protocol names, comma separated, each once -> a list of AppProtocols."""

    name = "protocols"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from v2gkit.session.handshake import protocol_list
        if not isinstance(value, (str, list, tuple)):
            self.fail(f"{value!r} is not a list of protocols such as iso2,din", param, ctx)
        try:
            return protocol_list(value)
        except (ValueError, TypeError) as e:
            self.fail(str(e), param, ctx)


class InterfaceType(click.ParamType):
    """The name of a network interface that exists here."""

    name = "interface"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from v2gkit.net.iface import InterfaceError, if_index
        if not isinstance(value, str) or not value:
            self.fail(f"{value!r} is not an interface name", param, ctx)
        try:
            if_index(value)
        except (InterfaceError, ValueError) as e:
            self.fail(str(e), param, ctx)
        return value


PROTOCOLS = ProtocolsType()
INTERFACE = InterfaceType()


class Main(click.Group):
    """The ``v2gkit`` group: a usage error is one line on stderr (``error: ...``) and exit status 2."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as e:
            hint = f" (see '{e.ctx.command_path} --help')" if getattr(e, "ctx", None) is not None else ""
            click.echo(f"error: {e.format_message()}{hint}", err=True)
            sys.exit(e.exit_code)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


def fail(message: str, code: int = 1) -> typing.NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


# ------------------------------------------------------------------------------------------- --config
@dataclass
class Tables:
    """The ``[section.<name>]`` sub-tables of a config file, for the simulators and the machine."""

    path: Path | None = None
    section: str = ""
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def where(self, name: str) -> str:
        return f"{self.path}: [{self.section}.{name}]" if self.path else f"[{self.section}.{name}]"


def load_config(ctx: click.Context, path: Path | None, section: str, tables: tuple[str, ...]) -> Tables:
    """Options from ``[section]`` of a TOML file fill in what the command line left at its default, each
    checked by the option's own type; the ``[section.<table>]`` sub-tables are returned for the simulators
    and the machine (check them with ``settings``)."""
    if path is None:
        return Tables(section=section)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        fail(f"cannot read config {path}: {e}", 2)
    table = data.get(section, {})
    if not isinstance(table, dict):
        fail(f"{path}: [{section}] must be a table", 2)
    extra = Tables(path, section, {k: table.pop(k) for k in tables if isinstance(table.get(k), dict)})
    params = {p.name: p for p in ctx.command.params if p.name and p.name != "config_path"}
    for key, value in table.items():
        name = key.replace("-", "_")
        param = params.get(name)
        if param is None:
            known = sorted(k.replace("_", "-") for k in params) + [f"[{section}.{t}]" for t in tables]
            fail(f"{path}: [{section}] has no option {key!r}; options: {', '.join(known)}", 2)
        try:
            converted = param.type_cast_value(ctx, value)
        except click.BadParameter as e:
            fail(f"{path}: [{section}] {key} = {value!r}: {e.message}", 2)
        if ctx.get_parameter_source(name) is click.core.ParameterSource.DEFAULT:
            ctx.params[name] = converted
    return extra


def settings(cls: Any, tables: Tables, name: str, *, non_negative: bool = False) -> dict[str, Any]:
    """The ``[section.<name>]`` table checked against the keyword parameters of ``cls`` (their annotations
    say the type): unknown keys and wrong types are usage errors naming the key. With ``non_negative`` no
    number may be below 0 (timeouts, intervals, counts)."""
    values, where = tables.values.get(name, {}), tables.where(name)
    known: list[str] = []
    hints: dict[str, Any] = {}
    # a class whose __init__ passes **settings on (SimulatedBPTEV -> SimulatedEV) takes its bases' too
    for klass in (cls.__mro__ if inspect.isclass(cls) and not hasattr(cls, "__dataclass_fields__") else (cls,)):
        target = klass.__init__ if inspect.isclass(klass) and not hasattr(klass, "__dataclass_fields__") else klass
        if target is object.__init__:
            break
        sig = inspect.signature(target)
        h = typing.get_type_hints(target)
        for n, p in sig.parameters.items():
            if n != "self" and p.kind is not p.VAR_KEYWORD and n not in known and _settable(h.get(n)):
                known.append(n)
                hints[n] = h[n]
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            break
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            fail(f"{where} has no setting {key!r}; settings: {', '.join(known)}", 2)
        try:
            out[key] = _coerce(value, hints[key])
            if non_negative and _negative(out[key]):
                raise ValueError("must not be negative")
        except (TypeError, ValueError) as e:
            fail(f"{where} {key} = {value!r}: {e}", 2)
    return out


def _negative(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_negative(v) for v in value.values())
    if isinstance(value, tuple):
        return any(_negative(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0


def _settable(hint: Any) -> bool:
    """Whether a TOML value can stand for this type (a number, a string, a list...; not a Cable object)."""
    for h in _alternatives(hint):
        plain = h in (bool, int, float, str, bytes, type(None)) or typing.get_origin(h) in (tuple, dict)
        if not plain and not (inspect.isclass(h) and issubclass(h, enum.Enum)):
            return False
    return True


def _alternatives(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` as ``hint`` wants it; TypeError/ValueError saying what was expected."""
    errors = []
    for h in _alternatives(hint):
        try:
            return _coerce_one(value, h)
        except (TypeError, ValueError) as e:
            if h is not type(None):  # "Optional" says nothing useful: TOML has no null
                errors.append(str(e))
    raise TypeError(" or ".join(errors))


def _coerce_one(value: Any, h: Any) -> Any:
    origin = typing.get_origin(h)
    if h is bool:
        if isinstance(value, bool):
            return value
        raise TypeError("expected true or false")
    if h is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError("expected a whole number")
    if h is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError("expected a number")
    if h is str:
        if isinstance(value, str):
            return value
        raise TypeError("expected a string")
    if h is bytes:
        if isinstance(value, str):
            try:
                return bytes.fromhex(value.removeprefix("0x"))
            except ValueError:
                raise ValueError("expected hex digits") from None
        raise TypeError("expected a hex string")
    if h is type(None):
        raise TypeError("expected a value")  # TOML has no null
    if inspect.isclass(h) and issubclass(h, enum.Enum):
        for member in h:
            if value in (member.value, member.name):
                return member
        raise ValueError(f"expected one of {', '.join(str(m.value) for m in h)}")
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError("expected a list")
        item = typing.get_args(h)[0]
        return tuple(_coerce(v, item) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError("expected a table")
        kt, vt = typing.get_args(h)
        return {_coerce(k, kt): _coerce(v, vt) for k, v in value.items()}
    raise TypeError(f"cannot be set from a config file ({h})")


class AddressType(click.ParamType):
    """``[fe80::1%eth0]:15118``, ``::1:15118`` or ``host:port`` -> (host, port)."""

    name = "ADDR:PORT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        v = str(value).strip()
        if v.startswith("["):
            host, _, rest = v[1:].partition("]")
            port = rest.lstrip(":")
        else:
            host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            self.fail(f"{value!r} is not ADDR:PORT (e.g. [::1]:15118)", param, ctx)
        return host, int(port)


class SutType(click.ParamType):
    """The name of a SUT launcher (``python -m v2gkit.testsys.suts list``)."""

    name = "SUT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from v2gkit.testsys.suts import sut_names
        names = sut_names()
        if value not in names:
            self.fail(f"{value!r} is not a SUT; choose from: {', '.join(names)}", param, ctx)
        return value


ADDRESS = AddressType()
SUT = SutType()
