"""Building frozen slots dataclasses (events, order states) at replay speed.

A frozen dataclass's own `__init__` sets every field through `object.__setattr__` (it must get
past its own frozen `__setattr__`), and `dataclasses.replace` adds a walk over `fields()` and a
keyword call on top: a few microseconds per event and per order state, which is most of what a
replay of millions of events costs. The builders here give the same objects (same class, same
field values, still frozen afterwards) in a fraction of the time:

- each class gets a *twin*: a plain class with the very same `__slots__`, whose instances can be
  filled with ordinary attribute stores; once filled, the instance's `__class__` is set to the
  frozen class. CPython allows that assignment exactly when the two layouts are identical (same
  slots, same base), and checks it; `_twin_of` tries it once at import, so a class it cannot
  serve fails loudly there, never mid-replay.
- the code is straight-line, generated per class as dataclasses itself generates `__init__`.

Only for values already of the right types and for classes without `__post_init__` (checked):
no validation is skipped, since none of these classes has any.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def _twin_of(cls: type) -> type:
    if not is_dataclass(cls) or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: a slots dataclass without __post_init__ is needed")
    if cls.__bases__ != (object,):
        raise TypeError(f"{cls.__name__}: the twin needs the class's layout: no base class but object")
    twin = type(f"_Building{cls.__name__}", (), {"__slots__": cls.__dict__["__slots__"]})
    probe: Any = object.__new__(twin)
    probe.__class__ = cls  # raises TypeError now, at import, if the layouts ever differ
    return twin


def _scope(cls: type) -> dict[str, Any]:
    # The generated code's own names start with an underscore; field names never do (checked).
    if any(f.name.startswith("_") for f in fields(cls)):
        raise TypeError(f"{cls.__name__}: a field name starting with _ would shadow the builder's names")
    return {"_new": object.__new__, "_twin": _twin_of(cls), "_cls": cls}


def _compile(source: str, scope: dict[str, Any], name: str) -> Callable[..., Any]:
    exec(source, scope)  # straight-line code, as dataclasses generates __init__
    return scope[name]


def positional_builder(cls: type[T]) -> Callable[..., T]:
    """`cls(*values)` with every field given, in declaration order, without `cls.__init__`."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    params = ", ".join(names)
    body = "".join(f"    _o.{name} = {name}\n" for name in names)
    source = f"def build({params}):\n    _o = _new(_twin)\n{body}    _o.__class__ = _cls\n    return _o\n"
    return _compile(source, _scope(cls), "build")


def evolver(cls: type[T]) -> Callable[[T, Mapping[str, Any]], T]:
    """`dataclasses.replace(obj, **changes)` for instances of `cls`: a new instance with every
    field copied but those in `changes`. Unknown field names raise AttributeError."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    body = "".join(f"    _o.{name} = _old.{name}\n" for name in names)
    source = (
        f"def evolve(_old, _changes):\n    _o = _new(_twin)\n{body}"
        "    for _name, _value in _changes.items():\n        setattr(_o, _name, _value)\n"
        "    _o.__class__ = _cls\n    return _o\n"
    )
    return _compile(source, _scope(cls), "evolve")
