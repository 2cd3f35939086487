"""The script API (Lua ``Secc.``/``Evcc.`` and the Python tester share it), generated from the schemas.

* :func:`resolve` turns a name (``Get_PreChargeRes_DC_EVSEStatus_EVSEStatusCode``) into an
  :class:`ApiFunction`: kind, message, field path, parameters; :func:`functions` lists every name.
* :func:`enum_tables` gives the Lua enum tables (``UnitSymbolType.Unit_V == "V"``).
* The tables under ``tables/`` are generated: ``python -m v2gkit.testsys.api.generate --schemas
  ../shared/schemas`` (see :mod:`.generate`). Field access on codec objects: :mod:`v2gkit.testsys.fields`.
"""

from .enums import enum_tables
from .model import ApiFunction, ScriptValueError, SimpleInfo
from .names import FAMILIES, ROLES, all_functions, direction, functions, resolve, split_qualified

__all__ = ["FAMILIES", "ROLES", "ApiFunction", "ScriptValueError", "SimpleInfo", "all_functions", "direction",
           "enum_tables", "functions", "resolve", "split_qualified"]
