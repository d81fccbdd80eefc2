"""A reader of DWARF line-number programs (the ``.debug_line`` custom section):
which source file and line an instruction comes from.

Compilers targeting wasm (clang, zig, rustc with ``-g``) put DWARF sections into
custom sections; addresses in them are byte offsets from the start of the code
section's contents (just after its size), the convention of the WebAssembly tool
conventions' DWARF chapter.  Versions 2 to 5 of the line program are read (clang
and zig emit 4 or 5); only what a file:line lookup needs is kept.  Used by
:mod:`.diagnostics` when a trap's frames are first read, never on the normal path.

>>> # one sequence: address 0x10 is line 7 of a.c, up to 0x20
>>> table = LineTable.from_rows([(0x10, "a.c", 7), (0x20, None, 0)], code_start=0)
>>> table.lookup(0x18)
('a.c', 7)
"""
from __future__ import annotations

import bisect
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["LineTable", "DwarfError"]


class DwarfError(ValueError):
    """The ``.debug_line`` contents are not a line program this reader understands."""


_DW_FORM_block = 0x09
_DW_FORM_data1, _DW_FORM_data2, _DW_FORM_data4, _DW_FORM_data8 = 0x0B, 0x05, 0x06, 0x07
_DW_FORM_data16 = 0x1E
_DW_FORM_string = 0x08
_DW_FORM_strp = 0x0E
_DW_FORM_line_strp = 0x1F
_DW_FORM_udata = 0x0F
_DW_LNCT_path, _DW_LNCT_directory_index = 1, 2


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def u(self, n: int) -> int:
        p = self.pos
        if p + n > len(self.data):
            raise DwarfError("unexpected end of .debug_line")
        self.pos = p + n
        return int.from_bytes(self.data[p:p + n], "little")

    def s8(self) -> int:
        v = self.u(1)
        return v - 256 if v >= 128 else v

    def uleb(self) -> int:
        return self._leb(False)

    def sleb(self) -> int:
        return self._leb(True)

    def _leb(self, signed: bool) -> int:
        result = shift = 0
        data = self.data
        while True:
            if self.pos >= len(data):
                raise DwarfError("unexpected end of .debug_line")
            b = data[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                if signed and b & 0x40:
                    result -= 1 << shift
                return result

    def cstr(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise DwarfError("unterminated string in .debug_line")
        s = self.data[self.pos:end].decode("utf-8", "replace")
        self.pos = end + 1
        return s


def _str_at(section: Optional[bytes], offset: int) -> str:
    if section is None or offset >= len(section):
        return "?"
    end = section.find(b"\0", offset)
    return section[offset:end if end >= 0 else len(section)].decode("utf-8", "replace")


def _join(directory: str, path: str) -> str:
    if not directory or path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return path
    return directory.rstrip("/") + "/" + path


class LineTable:
    """The rows of every line program in a ``.debug_line`` section, looked up by
    module byte offset.  ``code_start`` is the module offset of the code section's
    contents; ``line_str``/``debug_str`` are the ``.debug_line_str``/``.debug_str``
    sections, which version 5 file names may point into."""

    def __init__(self, data: bytes, code_start: int, line_str: Optional[bytes] = None,
                 debug_str: Optional[bytes] = None) -> None:
        self.code_start = code_start
        # sequences: (start address, end address, row addresses, rows (file, line))
        self._seqs: List[Tuple[int, int, List[int], List[Tuple[str, int]]]] = []
        pos = 0
        while pos < len(data):
            pos = self._unit(data, pos, line_str, debug_str)
        self._seqs.sort(key=lambda s: s[0])
        self._starts = [s[0] for s in self._seqs]

    @classmethod
    def from_rows(cls, rows: Sequence[Tuple[int, Optional[str], int]], code_start: int) -> "LineTable":
        """A table of one sequence of ``(address, file, line)`` rows, the last (its
        file None) ending it (tests and examples)."""
        t = cls(b"", code_start)
        addrs = [a for a, _, _ in rows[:-1]]
        t._seqs = [(rows[0][0], rows[-1][0], addrs, [(f or "?", n) for _, f, n in rows[:-1]])]
        t._starts = [rows[0][0]]
        return t

    def lookup(self, offset: int) -> Optional[Tuple[str, int]]:
        """``(file, line)`` of the instruction at module byte ``offset`` (None if
        no sequence covers it or its line is 0, "no source")."""
        address = offset - self.code_start
        k = bisect.bisect_right(self._starts, address)
        best = None
        # (sequences may overlap, e.g. code the linker dropped at address 0: the
        # covering sequence that starts last wins)
        while k > 0:
            k -= 1
            start, end, addrs, rows = self._seqs[k]
            if start <= address < end:
                i = bisect.bisect_right(addrs, address) - 1
                if i >= 0 and rows[i][1] > 0:
                    best = rows[i]
                break
        return best

    # -- parsing ----------------------------------------------------------------------
    def _unit(self, data: bytes, pos: int, line_str: Optional[bytes],
              debug_str: Optional[bytes]) -> int:
        r = _Reader(data, pos)
        length = r.u(4)
        offset_size = 4
        if length == 0xFFFFFFFF:
            length = r.u(8)
            offset_size = 8
        end = r.pos + length
        if end > len(data):
            raise DwarfError("line program longer than .debug_line")
        version = r.u(2)
        if not 2 <= version <= 5:
            raise DwarfError(f"DWARF line program version {version} not supported")
        address_size = 4
        if version >= 5:
            address_size = r.u(1)
            r.u(1)   # segment selector size
        header_length = r.u(offset_size)
        program = r.pos + header_length
        min_inst = r.u(1)
        if version >= 4:
            r.u(1)   # maximum operations per instruction (VLIW only)
        default_is_stmt = r.u(1)
        del default_is_stmt
        line_base = r.s8()
        line_range = r.u(1)
        opcode_base = r.u(1)
        if line_range == 0:
            raise DwarfError("line_range 0")
        lengths = [r.u(1) for _ in range(opcode_base - 1)]
        files: Dict[int, str] = {}
        if version >= 5:
            dirs = [str(e.get(_DW_LNCT_path, "")) for e in self._entries(r, offset_size, line_str, debug_str)]
            for k, e in enumerate(self._entries(r, offset_size, line_str, debug_str)):
                d = e.get(_DW_LNCT_directory_index, 0)
                files[k] = _join(dirs[d] if isinstance(d, int) and 0 <= d < len(dirs) else "",
                                 str(e.get(_DW_LNCT_path, "?")))
        else:
            dirs = [""]
            while True:
                s = r.cstr()
                if not s:
                    break
                dirs.append(s)
            k = 1
            while True:
                s = r.cstr()
                if not s:
                    break
                d = r.uleb()
                r.uleb()
                r.uleb()
                files[k] = _join(dirs[d] if d < len(dirs) else "", s)
                k += 1
        r.pos = program
        self._program(r, end, files, version, address_size, min_inst, line_base, line_range,
                      opcode_base, lengths)
        return end

    @staticmethod
    def _entries(r: _Reader, offset_size: int, line_str: Optional[bytes],
                 debug_str: Optional[bytes]) -> List[Dict[int, object]]:
        """A version 5 directory or file name table."""
        formats = [(r.uleb(), r.uleb()) for _ in range(r.u(1))]
        out = []
        for _ in range(r.uleb()):
            e: Dict[int, object] = {}
            for content, form in formats:
                if form == _DW_FORM_string:
                    v: object = r.cstr()
                elif form == _DW_FORM_line_strp:
                    v = _str_at(line_str, r.u(offset_size))
                elif form == _DW_FORM_strp:
                    v = _str_at(debug_str, r.u(offset_size))
                elif form == _DW_FORM_udata:
                    v = r.uleb()
                elif form == _DW_FORM_data1:
                    v = r.u(1)
                elif form == _DW_FORM_data2:
                    v = r.u(2)
                elif form == _DW_FORM_data4:
                    v = r.u(4)
                elif form == _DW_FORM_data8:
                    v = r.u(8)
                elif form == _DW_FORM_data16:
                    v = r.u(16)
                elif form == _DW_FORM_block:
                    n = r.uleb()
                    r.pos += n
                    v = None
                else:
                    raise DwarfError(f"DWARF form 0x{form:x} in a file table not supported")
                e[content] = v
            out.append(e)
        return out

    def _program(self, r: _Reader, end: int, files: Dict[int, str], version: int,
                 address_size: int, min_inst: int, line_base: int, line_range: int,
                 opcode_base: int, lengths: List[int]) -> None:
        first_file = 0 if version >= 5 else 1
        address, file, line = 0, 1, 1
        addrs: List[int] = []
        rows: List[Tuple[str, int]] = []

        def row() -> None:
            addrs.append(address)
            rows.append((files.get(file, "?") if file >= first_file else "?", line))

        while r.pos < end:
            op = r.u(1)
            if op >= opcode_base:
                adjusted = op - opcode_base
                address += (adjusted // line_range) * min_inst
                line += line_base + adjusted % line_range
                row()
            elif op == 0:
                n = r.uleb()
                sub_end = r.pos + n
                sub = r.u(1) if n else 0
                if sub == 1:   # end_sequence
                    if addrs:
                        self._seqs.append((addrs[0], address, addrs, rows))
                    addrs, rows = [], []
                    address, file, line = 0, 1, 1
                elif sub == 2:   # set_address
                    address = r.u(n - 1)
                r.pos = sub_end
            elif op == 1:   # copy
                row()
            elif op == 2:   # advance_pc
                address += r.uleb() * min_inst
            elif op == 3:   # advance_line
                line += r.sleb()
            elif op == 4:   # set_file
                file = r.uleb()
            elif op == 8:   # const_add_pc
                address += ((255 - opcode_base) // line_range) * min_inst
            elif op == 9:   # fixed_advance_pc
                address += r.u(2)
            else:   # set_column, negate_stmt, ... and unknown ones: skip the operands
                for _ in range(lengths[op - 1]):
                    r.uleb()
        del address_size
