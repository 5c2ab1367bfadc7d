# Run by the *target* interpreter (CPython 3.6+) as one long-lived worker of `pyfloppy compile`.
# Reads requests from stdin, one JSON object per line:
#   {"sources": [[path_b64, dfile_or_null], ...], "levels": [0, 1, 2], "mode": "timestamp"|"checked-hash"|
#    "unchecked-hash"|null, "force": bool}
# and answers each source with one frame on stdout: a 4-byte little-endian length, a JSON header of that
# length, then the payloads the header lists. Header: {"status": "compiled"|"fresh"|"error", "error": str,
# "payloads": [size, ...], "levels": [payload index per requested level]}. Identical levels share one payload.
#
# Each level's cache is made exactly as py_compile.compile makes it (same header, same dfile handling), from
# one read of the source. A level is compiled only when its code can differ from the level below it:
# -O changes only assert statements and __debug__, -OO only docstrings. Each code object is marshalled and
# released before the next compile, because marshal's output depends on reference counts (FLAG_REF), so
# keeping code objects (or an AST) alive across compiles changes the bytes. This writes nothing.
import base64
import importlib._bootstrap_external as bx
import importlib.util
import json
import marshal
import os
import struct
import sys
import traceback
import types

# The modules compileall's own process has loaded, so that their interned names carry the same references
# here: marshal writes FLAG_REF by reference count, so the set of loaded modules shows in the bytes of a
# source that shares names with them (weakref.py, for one).
import compileall  # noqa: F401
import concurrent.futures.process  # noqa: F401
import filecmp  # noqa: F401
import py_compile  # noqa: F401

MAGIC = importlib.util.MAGIC_NUMBER
PEP552 = sys.version_info >= (3, 7)


def default_mode(requested):
    if not PEP552:
        return "timestamp"
    if sys.version_info < (3, 8):
        # 3.7's py_compile makes SOURCE_DATE_EPOCH override even an explicit mode.
        return "checked-hash" if os.environ.get("SOURCE_DATE_EPOCH") else (requested or "timestamp")
    if requested:
        return requested
    return "checked-hash" if os.environ.get("SOURCE_DATE_EPOCH") else "timestamp"


def has_docstring(code):
    if "__doc__" in code.co_names:
        return True
    if code.co_consts and isinstance(code.co_consts[0], str):
        return True
    return any(has_docstring(c) for c in code.co_consts if isinstance(c, types.CodeType))


def cache_path(path, level):
    return importlib.util.cache_from_source(path, optimization="" if level == 0 else level)


def fresh(path, levels, st):
    # compileall's up-to-date test: every level's cache starts with the magic, flags 0 and the mtime.
    mtime = int(st.st_mtime) & 0xFFFFFFFF
    expect = struct.pack("<4sLL", MAGIC, 0, mtime) if PEP552 else struct.pack("<4sL", MAGIC, mtime)
    try:
        for level in levels:
            with open(cache_path(path, level), "rb") as f:
                if f.read(len(expect)) != expect:
                    return False
    except OSError:
        return False
    return True


def header(mode, st, source):
    if mode == "timestamp":
        if PEP552:
            return bx._code_to_timestamp_pyc, (st.st_mtime, st.st_size)
        return bx._code_to_bytecode, (st.st_mtime, st.st_size)
    return bx._code_to_hash_pyc, (importlib.util.source_hash(source), mode == "checked-hash")


def one(path, dfile, levels, mode, force):
    try:
        st = os.stat(path)
        if not force and fresh(path, levels, st):
            return {"status": "fresh"}
        with open(path, "rb") as f:
            source = f.read()
        make, args = header(mode, st, source)
        payloads = []
        index = []
        ascii_only = source.isascii() if hasattr(source, "isascii") else all(b < 128 for b in source)
        may_assert = not ascii_only or b"assert" in source or b"__debug__" in source
        doc = None
        previous = None
        for level in levels:
            same = False
            if previous is not None:
                if previous == 0 and level == 1:
                    same = not may_assert
                elif previous == 1 and level == 2:
                    same = doc is False
            if same:
                index.append(index[-1])
            else:
                code = compile(source, dfile or path, "exec", dont_inherit=True, optimize=level)
                if level < 2 and doc is None:
                    doc = has_docstring(code)
                data = bytes(make(code, *args))
                del code
                if payloads and data == payloads[-1]:
                    index.append(len(payloads) - 1)
                else:
                    payloads.append(data)
                    index.append(len(payloads) - 1)
            previous = level
        return {"status": "compiled", "payloads": payloads, "levels": index}
    except Exception as e:
        return {"status": "error", "error": "".join(traceback.format_exception_only(type(e), e)).strip()}


def main():
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        req = json.loads(line.decode("utf-8"))
        levels = sorted(set(req["levels"]))
        mode = default_mode(req.get("mode"))
        for path_b64, dfile in req["sources"]:
            path = os.fsdecode(base64.b64decode(path_b64))
            r = one(path, dfile, levels, mode, req.get("force", False))
            payloads = r.pop("payloads", [])
            r["payloads"] = [len(p) for p in payloads]
            head = json.dumps(r).encode("utf-8")
            out.write(struct.pack("<I", len(head)) + head)
            for p in payloads:
                out.write(p)
        out.flush()


if __name__ == "__main__":
    main()
