"""Tokens and S-expressions of the WebAssembly text format.

:func:`read_sexprs` turns source text into a list of :class:`SList` trees whose
leaves are :class:`Token` objects.  Both the module parser and the WAST script
reader work on these trees.  Comments and annotations (``(@id ...)``) are dropped,
except ``(@custom ...)``, kept as a list headed by the keyword ``@custom``;
positions are kept as character offsets and turned into line/column only when an
error is reported (see :meth:`Source.error`).

>>> src = Source('(module (func $f (result i32) (i32.const 42)))')
>>> tree = read_sexprs(src)[0]
>>> tree.items[0].text, tree.items[1].items[1].kind
('module', 'id')
"""
from __future__ import annotations

import bisect
import re
from typing import Any, List, Optional, Tuple, Union

from ..errors import DecodeError

__all__ = ["Source", "Token", "SList", "read_sexprs", "Node",
           "KEYWORD", "ID", "NUM", "STRING", "RESERVED"]

KEYWORD = "keyword"    # starts with a-z: "module", "i32.add", "offset=4", "nan:0x1", "inf"
ID = "id"              # "$name" (text includes the "$")
NUM = "num"            # starts with a digit, "+" or "-": still unparsed, see text/numbers
STRING = "string"      # value holds the decoded bytes
RESERVED = "reserved"  # anything else; always a syntax error where it appears

_IDCHARS = r"0-9A-Za-z!#$%&'*+\-./:<=>?@\\^_`|~"
# A "word" is the longest run of idchars, strings and the other characters of
# reserved tokens (",", ";", "[", "]", "{", "}"); see the spec's note on reserved
# tokens: "0$x" and "\"a\"\"b\"" are single (reserved) tokens.  A ";" that starts a
# line comment (";;") ends the word.
_WORD = re.compile(r'(?:[%s,\[\]{}]+|;(?!;)|"(?:[^"\\]|\\[^\n])*")+' % _IDCHARS)
_ANNOTATION_ID = re.compile(r'[%s]+|"(?:[^"\\]|\\[^\n])*"' % _IDCHARS)
_IDRUN = re.compile(r"[%s]+\Z" % _IDCHARS)
_STRING_ONLY = re.compile(r'"(?:[^"\\]|\\[^\n])*"\Z')
_SPACE = re.compile(r"[ \t\n\r]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING_ESCAPE = re.compile(r'\\(?:u\{([0-9A-Fa-f](?:_?[0-9A-Fa-f])*)\}|([0-9A-Fa-f]{2})|(.))', re.S)
_SIMPLE_ESCAPES = {"t": b"\t", "n": b"\n", "r": b"\r", '"': b'"', "'": b"'", "\\": b"\\"}


class Source:
    """Source text plus what is needed to turn offsets into line and column."""

    __slots__ = ("text", "_line_starts")
    _line_starts: Optional[List[int]]

    def __init__(self, text: Union[str, bytes, bytearray]) -> None:
        if isinstance(text, (bytes, bytearray)):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as e:
                self.text = ""
                self._line_starts = [0]
                raise DecodeError("malformed UTF-8 encoding", offset=e.start) from None
        self.text = text
        self._line_starts = None
        if not isinstance(text, str):
            raise TypeError(f"WebAssembly text must be str or bytes, not {type(text).__name__}")
        # a str can hold lone surrogates, which no UTF-8 source can: refuse them here,
        # with a position, rather than let a string or name fail to encode later
        m = _SURROGATE.search(text)
        if m is not None:
            raise self.error("malformed UTF-8 encoding (a lone surrogate "
                             f"U+{ord(m.group()):04X})", m.start())

    def line_col(self, pos: int) -> Tuple[int, int]:
        if self._line_starts is None:
            starts = [0]
            for m in re.finditer(r"\r\n|\n|\r", self.text):
                starts.append(m.end())
            self._line_starts = starts
        i = bisect.bisect_right(self._line_starts, pos) - 1
        return i + 1, pos - self._line_starts[i] + 1

    def error(self, reason: str, pos: int) -> DecodeError:
        line, col = self.line_col(pos)
        return DecodeError(reason, line=line, column=col)


class Token:
    __slots__ = ("kind", "text", "pos", "value")

    def __init__(self, kind: str, text: str, pos: int, value: Optional[bytes] = None) -> None:
        self.kind = kind
        self.text = text
        self.pos = pos
        self.value = value

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r})"


class SList:
    """A parenthesised list. ``pos`` is the offset of "(", ``end`` of ")"."""

    __slots__ = ("items", "pos", "end")

    def __init__(self, items: List[Any], pos: int, end: int = -1) -> None:
        self.items = items
        self.pos = pos
        self.end = end

    @property
    def head(self) -> Optional[str]:
        """The keyword this list starts with, or None: ``(func ...)`` -> ``'func'``."""
        if self.items:
            first = self.items[0]
            if isinstance(first, Token) and first.kind == KEYWORD:
                return first.text
        return None

    def __repr__(self) -> str:
        return f"SList({self.items!r})"


Node = Union[Token, SList]


def decode_string(src: Source, raw: str, pos: int) -> bytes:
    """The bytes a string literal (with its quotes) denotes."""
    body = raw[1:-1]
    for ch in body:
        o = ord(ch)
        if o < 0x20 or o == 0x7F:
            raise src.error("illegal character in string", pos)
    if "\\" not in body:
        return body.encode("utf-8")
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        j = body.find("\\", i)
        if j < 0:
            out += body[i:].encode("utf-8")
            break
        out += body[i:j].encode("utf-8")
        m = _STRING_ESCAPE.match(body, j)
        if m is None:
            raise src.error("illegal escape", pos + 1 + j)
        if m.group(1) is not None:
            cp = int(m.group(1).replace("_", ""), 16)
            if cp >= 0x110000 or 0xD800 <= cp < 0xE000:
                raise src.error("illegal escape", pos + 1 + j)
            out += chr(cp).encode("utf-8")
        elif m.group(2) is not None:
            out.append(int(m.group(2), 16))
        else:
            esc = _SIMPLE_ESCAPES.get(m.group(3))
            if esc is None:
                raise src.error("illegal escape", pos + 1 + j)
            out += esc
        i = m.end()
    return bytes(out)


def _name_of(src: Source, raw: str, pos: int, what: str) -> str:
    """The text of string literal ``raw`` used as an identifier or annotation id."""
    try:
        name = decode_string(src, raw, pos).decode("utf-8")
    except UnicodeDecodeError:
        raise src.error("malformed UTF-8 encoding", pos) from None
    if not name:
        raise src.error(f"empty {what}", pos)
    return name


def _classify(src: Source, word: str, pos: int) -> Token:
    c = word[0]
    if c == '"':
        if _STRING_ONLY.match(word):
            return Token(STRING, word, pos, decode_string(src, word, pos))
        return Token(RESERVED, word, pos)
    if c == "$" and len(word) > 1 and word[1] == '"' and _STRING_ONLY.match(word, 1):
        # $"..." (WebAssembly 3.0): the same identifier as $ followed by the
        # string's characters, which must be a non-empty UTF-8 name.
        return Token(ID, "$" + _name_of(src, word[1:], pos + 1, "identifier"), pos)
    if '"' in word:
        return Token(RESERVED, word, pos)
    if "a" <= c <= "z":
        return Token(KEYWORD, word, pos)
    if c == "$":
        if len(word) == 1:
            raise src.error("empty identifier", pos)
        return Token(ID, word, pos)
    if c.isdigit() or ((c == "+" or c == "-") and len(word) > 1):
        return Token(NUM, word, pos)
    return Token(RESERVED, word, pos)


def _skip_block_comment(src: Source, text: str, start: int) -> int:
    """Return the offset just past the block comment starting at ``start`` ("(;")."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        if text.startswith("(;", i):
            depth += 1
            i += 2
        elif text.startswith(";)", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise src.error("unclosed comment", start)


def read_sexprs(src: Union[Source, str, bytes]) -> List[Node]:
    """Read every top-level S-expression (or stray token) of ``src``.

    Raises DecodeError (with line and column) on unbalanced parentheses, unclosed
    strings or comments, and characters that cannot start a token.
    """
    if not isinstance(src, Source):
        src = Source(src)
    text = src.text
    n = len(text)
    top: List[Node] = []
    stack: List[SList] = []
    items = top
    # An annotation "(@id ...)" is read like a list and then dropped.
    annotation_depths: List[int] = []
    custom_lists: List[SList] = []
    i = 0
    space_match = _SPACE.match
    word_match = _WORD.match
    while i < n:
        c = text[i]
        if c in " \t\n\r":
            i = space_match(text, i).end()  # type: ignore[union-attr]  # (c is a space: it matches)
            continue
        if c == "(":
            if text.startswith("(;", i):
                i = _skip_block_comment(src, text, i)
                continue
            lst = SList([], i)
            if not annotation_depths and text.startswith("(@", i):
                # (Within an annotation any parenthesised tokens go.)
                m = _ANNOTATION_ID.match(text, i + 2)
                if m is None:
                    raise src.error("empty annotation id", i + 1)
                aid = m.group()
                if aid[0] == '"':
                    aid = _name_of(src, aid, i + 2, "annotation id")
                if aid == "custom" and not annotation_depths:
                    # (@custom ...) is kept: the module parser makes it a custom section.
                    custom_lists.append(lst)
                else:
                    annotation_depths.append(len(stack))
            items.append(lst)
            stack.append(lst)
            items = lst.items
            i += 1
            continue
        if c == ")":
            if not stack:
                raise src.error("unexpected token \")\"", i)
            lst = stack.pop()
            lst.end = i
            items = stack[-1].items if stack else top
            if annotation_depths and annotation_depths[-1] == len(stack):
                annotation_depths.pop()
                items.pop()
            elif custom_lists and custom_lists[-1] is lst:
                custom_lists.pop()
                lst.items[0] = Token(KEYWORD, "@custom", lst.items[0].pos)
            i += 1
            continue
        if c == ";":
            if text.startswith(";;", i):
                j = i + 2
                while j < n and text[j] != "\n" and text[j] != "\r":
                    j += 1
                i = j
                continue
        m = word_match(text, i)
        if m is None:
            if c == '"':
                raise src.error("unclosed string", i)
            raise src.error(f"illegal character {c!r}", i)
        word = m.group()
        end = m.end()
        # A string cut short by the end of a line or file leaves a dangling quote.
        if end < n and text[end] == '"':
            raise src.error("unclosed string", end)
        items.append(_classify(src, word, i))
        i = end
    if stack:
        if annotation_depths or custom_lists:
            raise src.error("unclosed annotation", stack[annotation_depths[0]].pos
                            if annotation_depths else custom_lists[0].pos)
        raise src.error("unclosed parenthesis", stack[-1].pos)
    return top
