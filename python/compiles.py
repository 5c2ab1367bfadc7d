# Run by the *target* interpreter (3.x): for each source path read from stdin (one per line, base64 of the raw
# path bytes, so that any file name survives), print one JSON line: {"ok": true} when compile() accepts the
# source, else {"ok": false, "error": "SyntaxError: ..."}. Reads the files, writes nothing, runs no code.
import base64
import json
import sys

out = sys.stdout
for line in sys.stdin.buffer:
    line = line.strip()
    if not line:
        continue
    path = base64.b64decode(line)
    try:
        with open(path, "rb") as f:
            source = f.read()
        compile(source, path.decode("utf-8", "surrogateescape"), "exec", dont_inherit=True)
        result = {"ok": True}
    except Exception as e:  # SyntaxError, ValueError (null bytes), UnicodeDecodeError, OSError
        result = {"ok": False, "error": "%s: %s" % (type(e).__name__, getattr(e, "msg", None) or e)}
    out.write(json.dumps(result) + "\n")
out.flush()
