"""Make the bundled excerpts of the functions the kernel panel shows besides tcp_close, from a
kernel tree: tuiexplore/kernel/bundled/receipt-VERSION.json (kernel/receipt_source.py's
FUNCTIONS) and timers-VERSION.json (kernel/timer_source.py's), each function unmodified, with its
file and first line. The bundled ones were made from Debian's linux-source-6.12 (6.12.118):

    scripts/bundle_function_source.py /path/to/linux-source-6.12 "Linux 6.12.118 as packaged by Debian (...)"
"""

import json
import sys
from pathlib import Path

from tuiexplore.kernel import receipt_source, timer_source
from tuiexplore.kernel.excerpt import function_lines
from tuiexplore.kernel.source import read_tree

tree, release = Path(sys.argv[1]), sys.argv[2]
version = (read_tree(str(tree)) or ("", ""))[0]
for kind, table in (("receipt", receipt_source.FUNCTIONS), ("timers", timer_source.FUNCTIONS)):
    functions = {}
    for name, file in table.items():
        got = function_lines((tree / file).read_text(errors="replace"), name)
        if got is None:
            sys.exit(f"{file}: no {name}()")
        functions[name] = {"file": file, "first_line": got[0], "lines": got[1]}
    out = Path(__file__).resolve().parents[1] / "tuiexplore" / "kernel" / "bundled" / f"{kind}-{version}.json"
    meta = {"version": version, "release": release, "licence": "GPL-2.0 (the Linux kernel's licence; excerpts unmodified)"}
    out.write_text(json.dumps({**meta, "functions": functions}, indent=0) + "\n")
    print(out, sum(len(f["lines"]) for f in functions.values()), "lines")
