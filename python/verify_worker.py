# Run by the *target* interpreter (CPython 3.8+) as one worker of `pyfloppy verify`, started by a `-c`
# bootstrap that execs this file (so that no script directory is put on sys.path):
#   python -B [-I | -s] [-O | -OO] -c BOOTSTRAP verify_worker.py TREE MODE [PREFIX]
# MODE is "stdlib" (the interpreter runs with PYTHONHOME=PREFIX and must have loaded its library from TREE)
# or "path" (TREE is put first on sys.path).
#
# Request, on stdin, read to its end before anything is imported: lines "discover" (find the modules of the
# tree), "module NAME" (import these, in this order, instead) and "exclude PREFIX" (dotted-name prefixes
# never imported). Answers: one JSON object per line, written to the stdout fd saved at start; fd 1 then
# points to /dev/null and sys.stdout/sys.stderr are /dev/null writers, so nothing an imported module prints
# can corrupt the protocol (fd 2 stays, for the interpreter's own fatal errors):
#   {"ev": "ready", "version", "optimize", "prefix", "entries"}   or   {"ev": "fatal", "message"}
#   {"ev": "found", "modules": [...], "excluded": [...]}           (after "discover")
#   {"ev": "start", "module"}
#   {"ev": "write", "module", "event", "path"}                     (recorded and blocked)
#   {"ev": "done", "module", "ok": true, "source": bool}
#   {"ev": "done", "module", "ok": false, "type", "message"}
#   {"ev": "end"}
#
# An audit hook (sys.addaudithook) sees every attempt to write under TREE (open for writing, mkdir, rename,
# replace, remove, rmdir, link, symlink, truncate, chmod, chown, utime), reports it and blocks it by raising
# PermissionError: importlib swallows OSError from its cache writes, so imports go on and the tree is not
# littered. The worker itself imports nothing but what the interpreter loaded before it ran (sys, os, the
# frozen importlib) and built-in modules (_imp, _thread), and the interpreter starts with -B, so nothing is
# written before the hook exists; then sys.dont_write_bytecode is set back to False, and modules the
# interpreter loaded from TREE at its start (site's imports on 3.8-3.10) have their cache validated again
# through their loader's get_code(), which tries the same write importlib would have tried. A watchdog
# thread ends the worker when its caller is gone.
import sys


def main():
    import os  # loaded by site before this file runs
    import _imp
    import _frozen_importlib_external as bx

    write_fd = os.dup(1)
    os_write = os.write
    os_fspath = os.fspath
    os_fsdecode = os.fsdecode
    os_readlink = os.readlink
    os_getcwd = os.getcwd
    join = os.path.join
    normpath = os.path.normpath
    realpath = os.path.realpath
    isabs = os.path.isabs

    def quote(s):
        out = ['"']
        for ch in s:
            o = ord(ch)
            if ch == '"' or ch == "\\":
                out.append("\\" + ch)
            elif 0x20 <= o < 0x7F:
                out.append(ch)
            elif o > 0xFFFF:
                o -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 + (o >> 10), 0xDC00 + (o & 0x3FF)))
            else:
                out.append("\\u%04x" % o)
        out.append('"')
        return "".join(out)

    def dumps(v):
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return quote(v)
        if isinstance(v, (list, tuple)):
            return "[" + ",".join(dumps(x) for x in v) + "]"
        return "{" + ",".join(quote(k) + ":" + dumps(x) for k, x in v.items()) + "}"

    def emit(obj):
        data = (dumps(obj) + "\n").encode("ascii")
        while data:
            n = os_write(write_fd, data)
            data = data[n:]

    argv = sys.argv[1:]
    tree, mode = argv[0], argv[1]
    prefix = argv[2] if len(argv) > 2 else None

    chunks = []
    while True:
        b = os.read(0, 65536)
        if not b:
            break
        chunks.append(b)
    request = b"".join(chunks).decode("utf-8").splitlines()

    if not hasattr(sys, "addaudithook"):
        message = "Python %d.%d has no audit hooks (3.8 or newer needed)" % sys.version_info[:2]
        emit({"ev": "fatal", "message": message})
        return

    # The worker leads its own process group (so that a timeout can end what its modules start): when the
    # caller is gone (interrupted), nobody would end a module that hangs, so the worker ends itself.
    import _thread

    parent = os.getppid()
    os_getppid = os.getppid
    os_exit = os._exit

    def watchdog():
        lock = _thread.allocate_lock()
        lock.acquire()
        while True:
            lock.acquire(timeout=1.0)
            if os_getppid() != parent:
                os_exit(1)

    _thread.start_new_thread(watchdog, ())

    # Nothing imported may print into the protocol or wait for input.
    devnull = os.open(os.devnull, os.O_RDWR)
    sys.stdout.flush()
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sink = open(os.devnull, "w")
    sys.stdout = sink
    sys.stderr = sink

    tree_abs = normpath(os.path.abspath(tree))
    tree_real = realpath(tree)
    roots = [tree_abs] if tree_abs == tree_real else [tree_abs, tree_real]
    archives = []
    if mode == "stdlib":
        # The installation's pythonXY.zip (getpath puts it on sys.path beside the directory): part of the
        # tree when it exists, as pyfloppy's zip layouts make it.
        lib = os.path.dirname(tree_abs)
        for e in sys.path:
            archive = normpath(e)
            if os.path.dirname(archive) == lib and archive.endswith(".zip") and os.path.isfile(archive):
                archives = [archive]
                roots += [archive] if realpath(archive) == archive else [archive, realpath(archive)]
                break

    def under(p):
        for r in roots:
            if p == r or p.startswith(r + "/"):
                return True
        return False

    if mode == "stdlib":
        # As the installation would run, without the cwd (-c puts "" first).
        sys.path[:] = [e for e in sys.path if e not in ("", ".")]
        entries = [e for e in sys.path if under(realpath(e)) or under(normpath(e))]
        if realpath(sys.prefix) != realpath(prefix) or not any(realpath(e) == tree_real for e in entries):
            emit(
                {
                    "ev": "fatal",
                    "message": "sys.prefix is %s and sys.path is %s" % (sys.prefix, ", ".join(sys.path)),
                }
            )
            return
    else:
        sys.path.insert(0, tree)
        entries = [tree]
    entries = [e for e in entries if os.path.isdir(e) or normpath(e) in archives]
    emit(
        {
            "ev": "ready",
            "version": "%d.%d.%d" % sys.version_info[:3],
            "optimize": sys.flags.optimize,
            "prefix": sys.prefix,
            "entries": entries,
        }
    )

    excludes = [line[8:] for line in request if line.startswith("exclude ")]
    excludes += ["antigravity", "this", "__hello__", "__phello__", "idlelib.idle"]

    def excluded(name):
        if "__main__" in name.split("."):
            return True
        for p in excludes:
            if name == p or name.startswith(p + "."):
                return True
        return False

    ext_suffixes = list(_imp.extension_suffixes())
    suffixes = [".py", ".pyc"] + ext_suffixes

    def module_stem(fname):
        for s in suffixes:
            if fname.endswith(s) and len(fname) > len(s):
                return fname[: -len(s)]
        return None

    def discover():
        found = {}
        seen_dirs = set()

        def walk(d, pfx):
            rd = realpath(d)
            if rd in seen_dirs:
                return
            seen_dirs.add(rd)
            try:
                names = sorted(os.listdir(d))
            except OSError:
                return
            for n in names:
                full = join(d, n)
                if os.path.isdir(full):
                    if not n.isidentifier():
                        continue
                    if any(os.path.isfile(join(full, "__init__" + s)) for s in suffixes):
                        name = pfx + n
                        found.setdefault(name, True)
                        walk(full, name + ".")
                    continue
                stem = module_stem(n)
                if stem is None or not stem.isidentifier() or stem == "__init__":
                    continue
                found.setdefault(pfx + stem, True)

        def walk_archive(archive):
            # zipimport is frozen (3.8+): it reads nothing from the tree. Its table of contents is what
            # zipimport itself imports from; regular packages only, as in walk().
            import zipimport

            names = set(k.replace(os.sep, "/") for k in zipimport._read_directory(archive))

            def package(parts):
                return all(p.isidentifier() for p in parts) and any(
                    "/".join(parts) + "/__init__" + s in names for s in (".py", ".pyc")
                )

            for n in sorted(names):
                parts = n.split("/")
                stem = module_stem(parts[-1])
                if stem is None or not stem.isidentifier() or parts[-1].endswith(tuple(ext_suffixes)):
                    continue
                dirs = parts[:-1]
                if not all(package(dirs[: k + 1]) for k in range(len(dirs))):
                    continue
                if stem != "__init__":
                    found.setdefault(".".join(dirs + [stem]), True)
                elif dirs:
                    found.setdefault(".".join(dirs), True)

        for e in entries:
            if e in archives or normpath(e) in archives:
                walk_archive(normpath(e))
            else:
                walk(e, "")
        names = sorted(found)
        return [n for n in names if not excluded(n)], [n for n in names if excluded(n)]

    if "discover" in request:
        modules, left_out = discover()
        emit({"ev": "found", "modules": modules, "excluded": left_out})
    else:
        modules = [line[7:] for line in request if line.startswith("module ")]
        modules = [m for m in modules if not excluded(m)]

    # The audit hook: record and block every write under the tree.
    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    # event -> [(index of a path argument, index of its dir_fd argument or None)]
    PATH_EVENTS = {
        "os.mkdir": [(0, 2)],
        "os.rename": [(0, 2), (1, 3)],
        "os.replace": [(0, 2), (1, 3)],
        "os.remove": [(0, 1)],
        "os.rmdir": [(0, 1)],
        "os.link": [(1, 3)],
        "os.symlink": [(1, 2)],
        "os.truncate": [(0, None)],
        "os.chmod": [(0, 2)],
        "os.chown": [(0, 3)],
        "os.utime": [(0, 3)],
    }
    state = {"module": None, "busy": False, "quiet": "quiet" in request}
    dir_entries = [normpath(e) for e in entries if normpath(e) not in archives]

    def resolve(p, dir_fd):
        if isinstance(p, int):
            return os_readlink("/proc/self/fd/%d" % p)
        p = os_fsdecode(os_fspath(p))
        if not isabs(p):
            base = os_readlink("/proc/self/fd/%d" % dir_fd) if isinstance(dir_fd, int) else os_getcwd()
            p = join(base, p)
        return normpath(p)

    def hook(event, args):
        if state["busy"]:
            return
        if event == "open":
            if len(args) < 3:
                return
            path, fmode, flags = args[0], args[1], args[2]
            if isinstance(path, int) or path is None:
                return
            writes = (isinstance(fmode, str) and any(c in fmode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS
            )
            if not writes:
                return
            targets = [(path, None)]
        else:
            spec = PATH_EVENTS.get(event)
            if spec is None:
                return
            targets = [
                (args[i], args[j] if j is not None and j < len(args) else None) for i, j in spec if i < len(args)
            ]
        state["busy"] = True
        try:
            hit = None
            for p, dir_fd in targets:
                try:
                    full = resolve(p, dir_fd)
                    if under(full) or under(realpath(full)):
                        hit = full
                        break
                except Exception:
                    continue
            if hit is None:
                return
            if not state["quiet"]:
                by = write_origin(sys._getframe(1), dir_entries, normpath, join)
                emit({"ev": "write", "module": state["module"] or "", "event": event, "path": hit, "by": by})
        finally:
            state["busy"] = False
        raise PermissionError(13, "Permission denied (pyfloppy verify blocks writes into the tree)", hit)

    # The modules the checks use, loaded before the hook (with -B: nothing written) so that their own
    # imports are not blamed on the first module checked; they are validated in their turn as preloaded.
    tools = load_check_tools("quiet" in request)  # unittest only for test discovery
    preloaded = set(sys.modules)
    sys.addaudithook(hook)
    # Started with -B, so that the interpreter's own start wrote nothing unseen: from here on, importlib
    # writes caches as it would without -B (it reads this attribute at each write, not sys.flags).
    sys.dont_write_bytecode = False

    def from_tree(m):
        spec = getattr(m, "__spec__", None)
        origin = getattr(spec, "origin", None) or getattr(m, "__file__", None)
        if not isinstance(origin, str) or not isabs(origin):
            return False
        return under(normpath(origin)) or under(realpath(origin))

    def has_source(name, m):
        if not from_tree(m):
            return False
        loader = getattr(m, "__loader__", None)
        get_source = getattr(loader, "get_source", None)
        if get_source is None:
            return False
        try:
            return isinstance(get_source(name), str)
        except Exception:
            return False

    if state["quiet"]:
        for pkg in [line[6:] for line in request if line.startswith("tests ")]:
            emit(dict(discover_tests(pkg, tools, dir_entries, normpath, join), ev="tests", package=pkg))
        emit({"ev": "end"})
        return

    for name in modules:
        state["module"] = name
        emit({"ev": "start", "module": name})
        try:
            m = sys.modules.get(name)
            if name in preloaded and m is not None:
                # Loaded before the hook existed: validate its cache again as the import did.
                loader = getattr(getattr(m, "__spec__", None), "loader", None)
                if isinstance(loader, bx.SourceFileLoader) and from_tree(m):
                    loader.get_code(name)
            else:
                __import__(name)
                m = sys.modules[name]
            checks = None
            if from_tree(m):
                state["quiet"] = True  # the import tried every write already: block, do not count again
                try:
                    checks = behaviour(name, m, tools, under)
                finally:
                    state["quiet"] = False
            emit(
                {
                    "ev": "done",
                    "module": name,
                    "ok": True,
                    "source": has_source(name, m),
                    "package": hasattr(m, "__path__"),
                    "checks": checks,
                }
            )
        except BaseException as e:  # noqa: B036 - SystemExit and KeyboardInterrupt at import are failures too
            try:
                message = str(e)
            except Exception:
                message = "(unprintable)"
            if len(message) > 500:
                message = message[:497] + "..."
            emit({"ev": "done", "module": name, "ok": False, "type": type(e).__name__, "message": message})
        state["module"] = None
    emit({"ev": "end"})


def write_origin(frame, dir_entries, normpath, join):
    """'import' when importlib writes the cache of a module of the tree (found by its name under one of the
    tree's sys.path entries, as verify imports it); 'module' for anything else: a module's own writes, or
    caches of files it imported from elsewhere (a directory it put on sys.path itself)."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "get_code" and "_bootstrap_external" in code.co_filename:
            fullname = frame.f_locals.get("fullname")
            source = frame.f_locals.get("source_path")
            if isinstance(fullname, str) and isinstance(source, str):
                parts = fullname.split(".")
                for e in dir_entries:
                    base = join(e, *parts)
                    if normpath(source) in (base + ".py", join(base, "__init__.py")):
                        return "import"
            return "module"
        frame = frame.f_back
    return "module"


def load_check_tools(with_unittest):
    """The tree's own linecache, inspect, importlib.resources (and unittest for test discovery): the
    checks see what users of the tree would. A tool that does not import leaves its checks unanswered."""
    tools = {}
    for key, name in (
        ("linecache", "linecache"),
        ("inspect", "inspect"),
        ("resources", "importlib.resources"),
        ("unittest", "unittest" if with_unittest else None),
    ):
        if name is None:
            continue
        try:
            __import__(name)
            tools[key] = sys.modules[name]
        except Exception:
            tools[key] = None
    return tools


CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".so", ".pyd")


def first_line(code):
    lines = getattr(code, "co_lines", None)
    if lines is not None:
        for _start, _end, line in lines():
            if line:
                return line
        return None
    import dis

    for _offset, line in dis.findlinestarts(code):
        if line:
            return line
    return None


def own_function(name, m, inspect, filename):
    """A Python function the module's code defines (at module level, else a method of one of its classes):
    what inspect.getsource and a traceback would show. Functions made by exec or eval (namedtuple's) and
    an extension module's classes have other or no code files and are not candidates."""
    values = list(vars(m).values())
    methods = [x for v in values if inspect.isclass(v) and v.__module__ == name for x in list(vars(v).values())]
    for v in values + methods:
        if inspect.isfunction(v) and v.__module__ == name and v.__code__.co_filename == filename:
            return v
    return None


def check_code(name, m, tools, under):
    """lines: the line a traceback through the module's code would show, resolved as traceback and
    linecache resolve it (code whose co_filename is outside the tree shows nothing: it only works while
    another copy of the file exists); file: __file__ is the code's co_filename, as importlib.resources,
    warnings, inspect and pdb expect, or, for sourceless bytecode (`mod.pyc`, a `.pyc` member of an
    archive), the source's path beside it, which is what py_compile and `compileall -b` write there."""
    loader = getattr(getattr(m, "__spec__", None), "loader", None)
    get_code = getattr(loader, "get_code", None)
    if get_code is None:
        return None, None, None
    try:
        code = get_code(name)
    except Exception:
        return False, False, None
    if code is None:
        return None, None, None
    import os.path

    filename = code.co_filename
    agrees = None
    if isinstance(getattr(m, "__file__", None), str):
        own = os.path.normpath(m.__file__)
        agrees = os.path.normpath(filename) in (own, own[:-1] if own.endswith(".pyc") else own)
    line = first_line(code)
    linecache = tools.get("linecache")
    if line is None or linecache is None:
        return None, agrees, filename
    if not (under(os.path.normpath(filename)) or under(os.path.realpath(filename))):
        return False, agrees, filename
    try:
        shown = linecache.getline(filename, line, vars(m)).strip() != ""
    except Exception:
        shown = False
    return shown, agrees, filename


def check_getsource(name, m, tools, filename, under):
    """inspect.getsource of a function of the module, from a file of the tree (a source file elsewhere, the
    original install the bytecode was compiled from, only works while that copy exists)."""
    inspect = tools.get("inspect")
    if inspect is None or filename is None:
        return None
    f = own_function(name, m, inspect, filename)
    if f is None:
        return None
    try:
        import os.path

        where = inspect.getsourcefile(f) or ""
        if not (under(os.path.normpath(where)) or under(os.path.realpath(where))):
            return False
        return inspect.getsource(f).strip() != ""
    except Exception:
        return False


def check_resources(name, m, tools):
    """A package holding data files: importlib.resources.files(package) lists and reads one (3.9+)."""
    resources = tools.get("resources")
    if not hasattr(m, "__path__") or resources is None or not hasattr(resources, "files"):
        return None
    import os

    locations = list(getattr(getattr(m, "__spec__", None), "submodule_search_locations", None) or [])
    data = []
    for d in locations[:1]:
        try:
            data = sorted(
                n
                for n in os.listdir(d)
                if not n.endswith(CODE_SUFFIXES) and not n.startswith(".") and os.path.isfile(os.path.join(d, n))
            )
        except OSError:
            data = []
    if not data:
        return None
    try:
        return len(resources.files(name).joinpath(data[0]).read_bytes()) == os.stat(os.path.join(locations[0], data[0])).st_size
    except Exception:
        return False


def behaviour(name, m, tools, under):
    """What users of the module rely on beyond its import; each True, False or None (not applicable)."""
    lines, agrees, filename = check_code(name, m, tools, under)
    return {
        "lines": lines,
        "file": agrees,
        "getsource": check_getsource(name, m, tools, filename, under),
        "resources": check_resources(name, m, tools),
    }


def discover_tests(pkg, tools, dir_entries, normpath, join):
    """unittest's discovery of a test package, as `python -m test` and load_package_tests do it: the
    package's directory from its sys.path entry, pattern test*.py."""
    unittest = tools.get("unittest")
    if unittest is None:
        return {"count": 0, "errors": 0, "error": "unittest does not import"}
    try:
        __import__(pkg)
        m = sys.modules[pkg]
        start = pkg
        top = None
        f = getattr(m, "__file__", None)
        if isinstance(f, str):
            import os.path

            d = normpath(os.path.dirname(f))
            for e in dir_entries:
                if d == join(e, *pkg.split(".")):
                    start, top = d, e
        loader = unittest.TestLoader()
        suite = loader.discover(start, pattern="test*.py", top_level_dir=top)
        errors = list(getattr(loader, "errors", []))
        first = errors[0].strip().splitlines()[-1] if errors else None
        return {"count": suite.countTestCases(), "errors": len(errors), "error": first}
    except BaseException as e:  # noqa: B036 - a test package that exits at import is a failure too
        return {"count": 0, "errors": 1, "error": "%s: %s" % (type(e).__name__, e)}


code = 0
try:
    main()
except BaseException as e:  # noqa: B036 - reported on fd 2 for the caller's error message
    import os

    os.write(2, ("pyfloppy verify worker: %s: %s\n" % (type(e).__name__, e)).encode("utf-8", "replace"))
    code = 3
# No atexit handlers, no waiting for threads the imported modules started.
import os  # noqa: E402

os._exit(code)
