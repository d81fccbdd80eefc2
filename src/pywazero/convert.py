"""Conversions between the two module formats.

This module sits above both :mod:`pywazero.binary` and :mod:`pywazero.text`: the
formats are independent of each other over the model (:mod:`pywazero.wasm`), and
only code here (and the public API) joins them.
"""
from __future__ import annotations

from typing import Optional, Union

from .binary.encoder import encode_module
from .errors import DecodeError
from .wasm.features import CoreFeatures

__all__ = ["wat2wasm"]


def wat2wasm(text: Union[str, bytes], features: Optional[CoreFeatures] = None) -> bytes:
    """Parse a text-format module, validate it (by the rules of ``features``;
    default ``CoreFeatures.ALL``), and return its binary.

    Malformed text raises :class:`~pywazero.errors.DecodeError`, an invalid module
    :class:`~pywazero.errors.ValidationError`.

    >>> wat2wasm("(module)")
    b'\\x00asm\\x01\\x00\\x00\\x00'
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("malformed UTF-8 encoding", offset=exc.start) from None
    # The parser and validator load on first use: importing pywazero stays cheap for
    # programs that only run binaries.
    from .text.parser import parse_module_text
    from .wasm.validation import validate_module

    module = parse_module_text(text)
    validate_module(module, CoreFeatures.ALL if features is None else features)
    return encode_module(module)
