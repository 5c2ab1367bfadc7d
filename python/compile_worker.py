# Run by the *target* interpreter (CPython 3.6+) as one long-lived worker of `pyfloppy compile`.
# Reads requests from stdin, one line per batch of sources, fields separated by tabs:
#   LEVELS MODE FORCE FLAGS PATH DFILE PATH DFILE ...
# LEVELS the digits of the levels ("012"), MODE timestamp|checked-hash|unchecked-hash or "-" (py_compile's
# default), FORCE 1|0, FLAGS compileall's options that shape its process (hex of a NUL-joined list, "-": none),
# PATH and DFILE hex-encoded file names (DFILE "-": none). Each source is answered with one frame on stdout:
# a 4-byte little-endian length, an ASCII header of that length, then the payloads the header lists.
# Header: STATUS<TAB>LEVELS<TAB>SIZES<TAB>ERROR: STATUS compiled|fresh|error, LEVELS the payload index per
# requested level and SIZES the payloads' sizes (comma-separated), ERROR the hex of the message (UTF-8).
# Identical levels share one payload.
#
# Each level's cache is made exactly as py_compile.compile makes it (same header, same dfile handling), from
# one read of the source. A level is compiled only when its code can differ from the level below it:
# -O changes only assert statements and __debug__, -OO only docstrings. Each code object is marshalled and
# released before the next compile, because marshal's output depends on reference counts (FLAG_REF), so
# keeping code objects (or an AST) alive across compiles changes the bytes.
#
# The bytes also depend on the process: marshal writes a string as interned ("Z") or not ("z"), and on
# 3.9-3.12 whether a one-character string such as "}" is interned depends on what the process did before,
# not on the source (the compiler interns only identifier-like constants; a one-character string is a
# process-wide singleton, interned for good once anything interns it: json's C encoder interns "{", "}",
# "[", "]"; loading a .pyc interns the strings it marks so). So this worker is compileall's process: it
# imports what `python -m compileall` imports, runs compileall.main() once over nothing with the same
# options, and frames its answers with str and bytes operations that intern nothing (no json, no base64).
#
# Before 3.11 marshal also gives FLAG_REF to an interned string (every identifier) only when something else
# in the process holds it: a name a compiled source shares with any live code of the process is flagged.
# So the worker's own identifiers (functions, variables) all start with _pyf_, a prefix no source uses, and
# its string constants are bytes or not identifiers (a constant like "fresh" would be interned and live).
# This writes nothing.
#
# Before anything else (its other imports included) it says hello, the first frame: a header only,
# hello<TAB>VERSION<TAB>CACHE_TAG<TAB>EXECUTABLE (tag "-": none; the executable in hex): what pyfloppy needs
# to know of the interpreter, so that it starts no other one to ask. On Python 2 this fails (no
# sys.stdout.buffer) and pyfloppy describes the interpreter to say why it refuses it.
import os
import sys


def _pyf_hello():
    # Bytes and names every process has alive anyway (sys's attributes, str/bytes/int methods): nothing
    # interned here outlives the call, so marshal's output is not changed by it.
    _pyf_tag = sys.implementation.cache_tag
    _pyf_head = b"hello\t%d.%d.%d\t%s\t%s" % (
        sys.version_info[0],
        sys.version_info[1],
        sys.version_info[2],
        b"-" if _pyf_tag is None else _pyf_tag.encode(),
        os.fsencode(sys.executable).hex().encode(),
    )
    sys.stdout.buffer.write(len(_pyf_head).to_bytes(4, b"little".decode()) + _pyf_head)
    sys.stdout.buffer.flush()


_pyf_hello()

# python -m loads runpy, then runs compileall: both loaded here first and in that order (the module that
# imports a module first decides whether its name is an interned string kept alive: 3.9's ctypes/util
# differed when importlib.machinery came in another way), by names made at run time, since an `import
# runpy` would keep the interned name 'runpy' alive, which compileall's process does not (3.9: ensurepip).
__import__(b"runpy".decode())
_pyf_compileall = __import__(b"compileall".decode())

import importlib.util  # noqa: E402
import py_compile  # noqa: E402
import struct  # noqa: E402
import types  # noqa: E402

_pyf_MAGIC = importlib.util.MAGIC_NUMBER
_pyf_PEP552 = sys.version_info >= (3, 7)
_pyf_main_code = None


def _pyf_become_compileall(_pyf_flags):
    # compileall.main() over /dev/null (compile_dir lists nothing; -qq prints nothing): argparse, gettext
    # and what they load, as in the process whose bytes are the reference. Nothing is compiled or written.
    _pyf_saved = sys.argv
    sys.argv = [_pyf_compileall.__file__, "-qq"] + _pyf_flags + [os.devnull]
    # Under -m, compileall's module code runs as __main__ and stays alive (its names, exit_status, too).
    global _pyf_main_code
    _pyf_main_code = _pyf_compileall.__loader__.get_code(_pyf_compileall.__name__)
    try:
        _pyf_compileall.main()
    except BaseException:  # noqa: B036  (argparse exits on an option this version lacks: go on without)
        pass
    finally:
        sys.argv = _pyf_saved


def _pyf_default_mode(_pyf_requested):
    if not _pyf_PEP552:
        return b"timestamp"
    if sys.version_info < (3, 8):
        # 3.7's py_compile makes SOURCE_DATE_EPOCH override even an explicit mode.
        return b"checked-hash" if os.environ.get("SOURCE_DATE_EPOCH") else (_pyf_requested or b"timestamp")
    if _pyf_requested:
        return _pyf_requested
    return b"checked-hash" if os.environ.get("SOURCE_DATE_EPOCH") else b"timestamp"


def _pyf_has_docstring(_pyf_code):
    if "__doc__" in _pyf_code.co_names:
        return True
    if _pyf_code.co_consts and isinstance(_pyf_code.co_consts[0], str):
        return True
    return any(_pyf_has_docstring(_pyf_c) for _pyf_c in _pyf_code.co_consts if isinstance(_pyf_c, types.CodeType))


def _pyf_cache_path(_pyf_path, _pyf_level):
    return importlib.util.cache_from_source(_pyf_path, optimization="" if _pyf_level == 0 else _pyf_level)


def _pyf_fresh(_pyf_path, _pyf_levels, _pyf_st):
    # compileall's up-to-date test: every level's cache starts with the magic, flags 0 and the mtime.
    _pyf_mtime = int(_pyf_st.st_mtime) & 0xFFFFFFFF
    _pyf_expect = struct.pack("<4sLL", _pyf_MAGIC, 0, _pyf_mtime) if _pyf_PEP552 else struct.pack("<4sL", _pyf_MAGIC, _pyf_mtime)
    try:
        for _pyf_level in _pyf_levels:
            with open(_pyf_cache_path(_pyf_path, _pyf_level), "rb") as _pyf_f:
                if _pyf_f.read(len(_pyf_expect)) != _pyf_expect:
                    return False
    except OSError:
        return False
    return True


def _pyf_header(_pyf_mode, _pyf_st, _pyf_source):
    if _pyf_mode == b"timestamp":
        if _pyf_PEP552:
            return importlib._bootstrap_external._code_to_timestamp_pyc, (_pyf_st.st_mtime, _pyf_st.st_size)
        return importlib._bootstrap_external._code_to_bytecode, (_pyf_st.st_mtime, _pyf_st.st_size)
    return importlib._bootstrap_external._code_to_hash_pyc, (importlib.util.source_hash(_pyf_source), _pyf_mode == b"checked-hash")


def _pyf_has_word(_pyf_source, _pyf_word):
    # Whether the word occurs in the (ASCII) source other than inside a longer name: `assert` the statement
    # may, `self.assertEqual` and `assert_called` may not (a test suite's sources are full of them).
    _pyf_at = _pyf_source.find(_pyf_word)
    while _pyf_at >= 0:
        _pyf_end = _pyf_at + len(_pyf_word)
        if not _pyf_name_byte(_pyf_source[max(_pyf_at - 1, 0) : _pyf_at]) and not _pyf_name_byte(_pyf_source[_pyf_end : _pyf_end + 1]):
            return True
        _pyf_at = _pyf_source.find(_pyf_word, _pyf_end)
    return False


def _pyf_name_byte(_pyf_b):
    # A byte of an ASCII name (b"" at either end of the source is not).
    return _pyf_b.isalnum() or _pyf_b == b"_"


def _pyf_one(_pyf_path, _pyf_dfile, _pyf_levels, _pyf_mode, _pyf_force):
    # (status and a tab, payloads, the payload of each level, the error message)
    try:
        _pyf_st = os.stat(_pyf_path)
        if not _pyf_force and _pyf_fresh(_pyf_path, _pyf_levels, _pyf_st):
            return "fresh\t", [], [], ""
        with open(_pyf_path, "rb") as _pyf_f:
            _pyf_source = _pyf_f.read()
        _pyf_make, _pyf_args = _pyf_header(_pyf_mode, _pyf_st, _pyf_source)
        _pyf_payloads = []
        _pyf_index = []
        _pyf_ascii_only = _pyf_source.isascii() if hasattr(_pyf_source, "isascii") else all(_pyf_b < 128 for _pyf_b in _pyf_source)
        _pyf_may_assert = not _pyf_ascii_only or _pyf_has_word(_pyf_source, b"assert") or b"__debug__" in _pyf_source
        _pyf_doc = None
        _pyf_previous = None
        for _pyf_level in _pyf_levels:
            _pyf_same = False
            if _pyf_previous is not None:
                if _pyf_previous == 0 and _pyf_level == 1:
                    _pyf_same = not _pyf_may_assert
                elif _pyf_previous == 1 and _pyf_level == 2:
                    _pyf_same = _pyf_doc is False
            if _pyf_same:
                _pyf_index.append(_pyf_index[-1])
            else:
                try:
                    _pyf_code = compile(_pyf_source, _pyf_dfile or _pyf_path, "exec", dont_inherit=True, optimize=_pyf_level)
                except Exception as _pyf_err:
                    # As py_compile: its PyCompileError formats the message (traceback, as compileall's
                    # process does on a failing source).
                    raise py_compile.PyCompileError(_pyf_err.__class__, _pyf_err, _pyf_dfile or _pyf_path)
                if _pyf_level < 2 and _pyf_doc is None:
                    _pyf_doc = _pyf_has_docstring(_pyf_code)
                _pyf_data = bytes(_pyf_make(_pyf_code, *_pyf_args))
                del _pyf_code
                if _pyf_payloads and _pyf_data == _pyf_payloads[-1]:
                    _pyf_index.append(len(_pyf_payloads) - 1)
                else:
                    _pyf_payloads.append(_pyf_data)
                    _pyf_index.append(len(_pyf_payloads) - 1)
            _pyf_previous = _pyf_level
        return "compiled\t", _pyf_payloads, _pyf_index, ""
    except py_compile.PyCompileError as _pyf_e:
        # The exception as traceback prints it (py_compile's msg for a SyntaxError, with the file named).
        if _pyf_e.exc_type_name == "SyntaxError":
            return "error\t", [], [], _pyf_e.msg.strip()
        return "error\t", [], [], "%s: %s" % (_pyf_e.exc_type_name, _pyf_e.exc_value)
    except Exception as _pyf_e:
        return "error\t", [], [], "%s: %s" % (_pyf_e.__class__.__name__, _pyf_e)


def _pyf_bytes(_pyf_s):
    try:
        return os.fsencode(_pyf_s)
    except UnicodeError:
        return _pyf_s.encode("utf-8", "replace")


def _pyf_numbers(_pyf_ns):
    return ",".join(str(_pyf_n) for _pyf_n in _pyf_ns)


def _pyf_main():
    _pyf_out = sys.stdout.buffer
    _pyf_started = False
    for _pyf_line in sys.stdin.buffer:
        _pyf_fields = _pyf_line.rstrip(b"\n").split(b"\t")
        if len(_pyf_fields) < 4:
            continue
        _pyf_levels = sorted(set(int(_pyf_c) - 48 for _pyf_c in _pyf_fields[0]))
        _pyf_mode = _pyf_default_mode(None if _pyf_fields[1] == b"-" else _pyf_fields[1])
        _pyf_force = _pyf_fields[2] == b"1"
        if not _pyf_started:
            _pyf_flags = [] if _pyf_fields[3] == b"-" else os.fsdecode(bytes.fromhex(_pyf_fields[3].decode()))
            _pyf_become_compileall(_pyf_flags.split("\0") if _pyf_flags else [])
            _pyf_started = True
        _pyf_k = 4
        while _pyf_k + 1 < len(_pyf_fields):
            _pyf_path = os.fsdecode(bytes.fromhex(_pyf_fields[_pyf_k].decode()))
            _pyf_dfile = None if _pyf_fields[_pyf_k + 1] == b"-" else os.fsdecode(bytes.fromhex(_pyf_fields[_pyf_k + 1].decode()))
            _pyf_k += 2
            _pyf_status, _pyf_payloads, _pyf_index, _pyf_error = _pyf_one(_pyf_path, _pyf_dfile, _pyf_levels, _pyf_mode, _pyf_force)
            _pyf_head = _pyf_status + "%s\t%s\t%s" % (
                _pyf_numbers(_pyf_index),
                _pyf_numbers(len(_pyf_p) for _pyf_p in _pyf_payloads),
                _pyf_bytes(_pyf_error).hex(),
            )
            _pyf_data = _pyf_head.encode()
            _pyf_out.write(struct.pack("<I", len(_pyf_data)) + _pyf_data)
            for _pyf_p in _pyf_payloads:
                _pyf_out.write(_pyf_p)
        _pyf_out.flush()


if __name__ == "__main__":
    _pyf_main()
