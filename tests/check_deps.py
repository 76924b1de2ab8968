"""Guard: everything the Python tests and benchmarks use comes from a package `make deps` names.

A fresh machine once failed 18 tests because the test camera's `timeoverlay` element lives in
gstreamer1.0-x, which scripts/deps.sh did not list; every machine we worked on happened to have it.
This guard makes such a gap visible on any machine, with or without the package installed:

- it reads the tests' and benchmarks' sources (no hand-kept list to forget) and collects the
  GStreamer elements of every launch line, the programs they run, the Python modules they import
  and the GObject typelibs they require;
- it finds the file behind each (gst-inspect-1.0, PATH, importlib, girepository) and asks dpkg which
  package ships it;
- the package must be one scripts/deps.sh names. Something not installed at all fails too: that is
  what a fresh machine would hit, with a clearer message.

Prints one line per finding and ends with `N passed, N failed` (run-all.sh counts it)."""
import ast
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ["tests/integration/*.py", "bench/*.py", "tests/*.py"]
GIR_DIRS = ["/usr/lib/x86_64-linux-gnu/girepository-1.0", "/usr/lib/girepository-1.0"]
# Calls whose first argument is an argv list: its first word is a program the tests run.
RUNNERS = {"run", "Popen", "check_output", "check_call", "call"}


def deps_packages():
    """What apt is sure to install: the packages deps.sh names and their direct dependencies,
    and what every Debian system has (Essential: yes: dash, dpkg, coreutils...)."""
    out = subprocess.run(["sh", os.path.join(ROOT, "scripts/deps.sh"), "--list"],
                         capture_output=True, text=True, check=True)
    named = set(out.stdout.split())
    sure = set(named)
    for pkg in named:
        q = subprocess.run(["dpkg-query", "-W", "-f", "${Depends},${Pre-Depends}", pkg],
                           capture_output=True, text=True)
        for alt in q.stdout.split(","):
            for dep in alt.split("|"):
                if dep.strip():
                    sure.add(dep.split()[0].split(":")[0])
    q = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Essential}\n"],
                       capture_output=True, text=True)
    sure.update(l.split()[0] for l in q.stdout.splitlines() if l.endswith(" yes"))
    return named, sure


def flatten(node):
    """The text of a string expression, with every part not known until run time as 'X':
    f-strings, `a + b` chains and conditionals all become one searchable string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(flatten(v) or "X" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = flatten(node.left), flatten(node.right)
        if left is not None or right is not None:
            return (left or "X") + (right or "X")
    return None


def launch_elements(text):
    """Element names in a gst-launch line: each bare word (no '=', not caps, not a name ref)."""
    names = set()
    for tok in re.split(r"[\s!()]+", text):
        if re.fullmatch(r"[a-z][a-z0-9_-]*[a-z0-9]", tok) and tok != "X":
            names.add(tok)
    return names


class Uses(ast.NodeVisitor):
    def __init__(self, local):
        self.local = local  # the tests' own modules (camera, conftest, ...)
        self.elements, self.programs, self.modules, self.typelibs = {}, {}, {}, {}
        self.where = ""

    def note(self, table, name, node):
        table.setdefault(name, f"{self.where}:{node.lineno}")

    def visit_Import(self, node):
        for a in node.names:
            self.module(a.name, node)

    def visit_ImportFrom(self, node):
        if node.module and node.level == 0:
            self.module(node.module, node)

    def module(self, name, node):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in self.local or name.startswith("gi.repository"):
            return
        self.note(self.modules, top, node)

    def visit_Call(self, node):
        f = node.func
        fname = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        argv = node.args[0] if node.args else None
        while isinstance(argv, ast.BinOp):  # ["prog", ...] + more
            argv = argv.left
        if fname in RUNNERS and isinstance(argv, ast.List) and argv.elts:
            first = flatten(argv.elts[0])
            if first and "X" not in first:
                self.note(self.programs, first, node)
        if fname == "require_version" and len(node.args) == 2:
            ns, ver = flatten(node.args[0]), flatten(node.args[1])
            if ns and ver:
                self.note(self.typelibs, f"{ns}-{ver}", node)
        self.generic_visit(node)

    def visit_BinOp(self, node):
        self.launch(node)

    def visit_JoinedStr(self, node):
        self.launch(node)

    def visit_Constant(self, node):
        self.launch(node)

    def launch(self, node):
        text = flatten(node)
        if text is None:
            self.generic_visit(node)
            return
        # A launch line links elements with ' ! '; an element alone in a string is not sought.
        if re.search(r"\S\s*!\s+\S", text):
            for e in launch_elements(text):
                self.note(self.elements, e, node)


def dpkg_owner(path):
    """The package that ships path, trying the merged-/usr twin (/lib vs /usr/lib) too."""
    tries = []
    for p in (path, os.path.realpath(path)):  # a link's own package first (python3 -> 3.11)
        tries += [p, p[4:] if p.startswith("/usr/") else "/usr" + p]
    for p in tries:
        out = subprocess.run(["dpkg-query", "-S", p], capture_output=True, text=True)
        owners = [l for l in out.stdout.splitlines() if not l.startswith("diversion by ")]
        if out.returncode == 0 and owners:  # "dash: /bin/sh", after dash's diversion lines
            return owners[-1].split(":")[0].split(",")[0].strip()
    return None


def element_file(name):
    out = subprocess.run(["gst-inspect-1.0", name], capture_output=True, text=True)
    m = re.search(r"^\s*Filename\s+(\S+)", out.stdout, re.M)
    return m.group(1) if m else None


def module_file(name):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return spec.origin
    locs = list(spec.submodule_search_locations or [])
    return locs[0] if locs else None


def typelib_file(name):
    for d in GIR_DIRS:
        p = os.path.join(d, name + ".typelib")
        if os.path.exists(p):
            return p
    return None


def main():
    files = sorted(f for g in SOURCES for f in glob.glob(os.path.join(ROOT, g)))
    local = {os.path.splitext(os.path.basename(f))[0] for f in files}
    uses = Uses(local)
    for path in files:
        uses.where = os.path.relpath(path, ROOT)
        with open(path) as f:
            uses.visit(ast.parse(f.read(), path))

    named, sure = deps_packages()
    passed = failed = 0
    kinds = [
        ("element", uses.elements, element_file),
        ("program", uses.programs, lambda p: shutil.which(p)),
        ("module", uses.modules, module_file),
        ("typelib", uses.typelibs, typelib_file),
    ]
    for kind, table, locate in kinds:
        for name, where in sorted(table.items()):
            path = locate(name)
            pkg = dpkg_owner(path) if path else None
            if path is None:
                verdict = "not installed: add the package that provides it to scripts/deps.sh"
            elif pkg is None:
                verdict = f"{path} belongs to no Debian package"
            elif pkg not in sure:
                verdict = (f"comes from {pkg}, which scripts/deps.sh does not name "
                           "(nor anything it names depends on it)")
            else:
                passed += 1
                how = "" if pkg in named else ", pulled in by a named package or essential"
                print(f"ok   {kind} {name} ({pkg}{how})")
                continue
            failed += 1
            print(f"FAIL {kind} {name} (used at {where}): {verdict}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
