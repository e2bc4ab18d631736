"""Make tuiexplore/kernel/bundled/receipt-VERSION.json from a kernel tree: the functions that
decide on receipt of a segment (kernel/receipt_source.py's FUNCTIONS), unmodified, with their
file and first line. The bundled one was made from Debian's linux-source-6.12 (6.12.118):

    scripts/bundle_receipt_source.py /path/to/linux-source-6.12 "Linux 6.12.118 as packaged by Debian (...)"
"""

import json
import sys
from pathlib import Path

from tuiexplore.kernel.excerpt import function_lines
from tuiexplore.kernel.receipt_source import FUNCTIONS
from tuiexplore.kernel.source import read_tree

tree, release = Path(sys.argv[1]), sys.argv[2]
version = (read_tree(str(tree)) or ("", ""))[0]
functions = {}
for name, file in FUNCTIONS.items():
    got = function_lines((tree / file).read_text(errors="replace"), name)
    if got is None:
        sys.exit(f"{file}: no {name}()")
    functions[name] = {"file": file, "first_line": got[0], "lines": got[1]}
out = Path(__file__).resolve().parents[1] / "tuiexplore" / "kernel" / "bundled" / f"receipt-{version}.json"
meta = {"version": version, "release": release, "licence": "GPL-2.0 (the Linux kernel's licence; excerpts unmodified)"}
out.write_text(json.dumps({**meta, "functions": functions}, indent=0) + "\n")
print(out, sum(len(f["lines"]) for f in functions.values()), "lines")
