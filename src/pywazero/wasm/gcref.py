"""GC values in the store: structs, arrays, i31 references and internalised host
references (WebAssembly 3.0 GC).

These are plain Python objects, so Python's own memory manager (reference
counting and its cycle collector) reclaims wasm objects, cycles included, once
nothing reaches them.

* :class:`Struct`: ``t`` is the canonical type id (see
  :mod:`pywazero.wasm.subtyping`; a cast looks it up in the supertype chain),
  ``f`` the list of field values.
* :class:`Array`: ``t`` likewise, ``a`` the list of elements.
* Field and element values are the engines' raw values; a packed (i8/i16) one is
  kept as its unsigned 8/16-bit pattern.
* :class:`I31`: an ``i31ref``, its ``value`` the signed 31-bit integer; two are
  equal (``ref.eq``) when their values are.
* :class:`HostAny`: a host reference made an ``anyref`` (``any.convert_extern``);
  ``extern.convert_any`` gives the original object back.  A GC value passed
  through ``extern.convert_any`` stays itself.

>>> I31(-5) == I31(-5), I31(-5).value
(True, -5)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Tuple, cast

if TYPE_CHECKING:
    from .types import ArrayType, StructType

__all__ = ["GcRef", "Struct", "Array", "I31", "HostAny", "internalize", "externalize"]


def _identity(storage: int, v: Any) -> Any:
    return v


# How a stored value looks to users.  The model knows no public API, so the API
# layer installs its converter here when it is imported (set_value_converter); until
# then values are shown as stored.
_value_converter: Callable[[int, Any], Any] = _identity


def set_value_converter(convert: Callable[[int, Any], Any]) -> None:
    """Install how field and element values are shown to users (called by
    :mod:`pywazero.api` with its ``from_raw``)."""
    global _value_converter
    _value_converter = convert


def _to_python(storage: int, v: Any) -> Any:
    """A field/element value as the API shows it (a packed one: its unsigned bits)."""
    from .types import PACKED_TYPES

    return v if storage in PACKED_TYPES else _value_converter(storage, v)


class GcRef:
    """A reference to a wasm GC object (``pywazero.StructRef`` or
    ``pywazero.ArrayRef``), opaque but for reading.  The same wasm object is
    always the same Python object, and passing it back into wasm passes that
    object."""

    __slots__ = ()


class Struct(GcRef):
    """A wasm struct (``pywazero.StructRef``): canonical type id ``t``, field
    values ``f`` (engine form).  ``fields`` reads them as Python values.

    >>> import pywazero as wz
    >>> m = wz.Runtime().instantiate('''(module (type $p (struct (field i32) (field f64)))
    ...   (func (export "make") (result (ref $p)) (struct.new $p (i32.const -1) (f64.const 2.5))))''')
    >>> s = m.function("make")()
    >>> isinstance(s, wz.StructRef), s.fields
    (True, (-1, 2.5))
    """

    __slots__ = ("t", "f", "__weakref__")

    def __init__(self, t: int, f: List[Any]) -> None:
        self.t = t
        self.f = f

    @property
    def fields(self) -> Tuple[Any, ...]:
        """The field values (i32/i64 signed, references as the API gives them; an
        i8/i16 field as its unsigned bits)."""
        from .subtyping import canonical_type

        ft = cast("StructType", canonical_type(self.t)).fields
        return tuple(_to_python(ft[i].storage, v) for i, v in enumerate(self.f))

    def __repr__(self) -> str:
        return f"<wasm struct of type {self.t} at {id(self):#x}>"


class Array(GcRef):
    """A wasm array (``pywazero.ArrayRef``): canonical type id ``t``, elements
    ``a`` (engine form).  ``len(arr)``, ``arr[i]`` and iteration read it as
    Python values.

    >>> import pywazero as wz
    >>> m = wz.Runtime().instantiate('''(module (type $a (array i64))
    ...   (func (export "make") (result (ref $a)) (array.new $a (i64.const 9) (i32.const 3))))''')
    >>> arr = m.function("make")()
    >>> len(arr), arr[0], list(arr)
    (3, 9, [9, 9, 9])
    """

    __slots__ = ("t", "a", "__weakref__")

    def __init__(self, t: int, a: List[Any]) -> None:
        self.t = t
        self.a = a

    def _storage(self) -> int:
        from .subtyping import canonical_type

        storage: int = cast("ArrayType", canonical_type(self.t)).field.storage
        return storage

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int) -> Any:
        return _to_python(self._storage(), self.a[i])

    def __iter__(self) -> Iterator[Any]:
        st = self._storage()
        return (_to_python(st, v) for v in list(self.a))

    def __repr__(self) -> str:
        return f"<wasm array of type {self.t}, length {len(self.a)} at {id(self):#x}>"


class I31:
    """An ``i31ref``: a 31-bit integer as a reference.  ``I31(n)`` takes ``n`` in
    ``[-2**30, 2**30)``; ``.value`` is the signed value.

    >>> I31(7).value
    7
    """

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        if value.__class__ is not int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"I31 takes an int, not {type(value).__name__}")
            value = int(value)
        if not -(1 << 30) <= value < (1 << 30):
            raise ValueError(f"I31 value out of range [-2**30, 2**30): {value}")
        self.value = value

    @classmethod
    def wrap(cls, bits: int) -> "I31":
        """``ref.i31``: the low 31 bits of an i32 pattern, sign-extended."""
        v = bits & 0x7FFFFFFF
        obj = object.__new__(cls)
        obj.value = v - 0x80000000 if v & 0x40000000 else v
        return obj

    def __eq__(self, other: object) -> bool:
        return other.__class__ is I31 and other.value == self.value

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(("i31", self.value))

    def __repr__(self) -> str:
        return f"I31({self.value})"


class HostAny:
    """A host reference internalised as an ``anyref`` (``any.convert_extern``)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return other.__class__ is HostAny and other.obj is self.obj

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(id(self.obj))

    def __repr__(self) -> str:
        return f"HostAny({self.obj!r})"


_GC_CLASSES = (Struct, Array, I31)


def internalize(v: Any) -> Any:
    """``any.convert_extern``: a GC value made an externref stays itself, another
    host value becomes a :class:`HostAny` (null stays null)."""
    if v is None or v.__class__ in _GC_CLASSES or v.__class__ is HostAny:
        return v
    return HostAny(v)


def externalize(v: Any) -> Any:
    """``extern.convert_any``: the inverse of :func:`internalize`."""
    if v.__class__ is HostAny:
        return v.obj
    return v
