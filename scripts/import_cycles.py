#!/usr/bin/env python3
"""Import cycles between the files of the `wafka` crate (runtime/src).

One node per .rs file (tests.rs, tests/ and `#[cfg(test)] mod tests {..}` left out); an edge
A -> B when A names an item that B defines, by `crate::`, `super::`, `self::` (`wafka::` in
main.rs) or bare `child::` paths, in `use` trees and in code. A path goes to its longest prefix
that is a module file M; a name M re-exports (`pub use` / `pub(crate) use`, renames, `child::*`)
is followed to the file defining it (no edge if it is another crate's), else the edge is to M.
A module bound by `use` (`use crate::server;`) is an alias: `server::serve` resolves like
`crate::server::serve` and the `use` is no edge (--no-aliases: edge to the module's file).
`pub use` lines, `mod foo;`, comments, strings and self-edges are not edges. --modules
collapses files to top-level modules (`config`, `server`, `gateway`, ..). Cycles are the
strongly connected components of more than one node, largest first.

  import_cycles.py [SRC] [-v] [--modules]  cycles (-v: also the edges inside each, first line)
  import_cycles.py [SRC] --edges F         what F imports and what imports F
  import_cycles.py [SRC] --why A B         the lines in A that make the edge A -> B
  (with --modules, F, A and B are top-level modules: --modules --why config filter)
"""
import argparse
import re
import sys
from pathlib import Path

NOISE = re.compile(r"""//[^\n]*|/\*.*?\*/|b?r(\#*)".*?"\1|b?"(?:\\.|[^"\\])*"|"""
                   r"""b?'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'""", re.S)
TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{")
INLINE_MOD = re.compile(r"\bmod\s+(\w+)\s*\{")
USE = re.compile(r"(?<![\w$])(pub\b\s*(?:\([^)]*\))?\s*)?use\s+([^;]*);")
TOKEN = re.compile(r"[A-Za-z_]\w*|::|[{},*]")
IDENT = r"[A-Za-z_]\w*"
DEF = re.compile(rf"\b(?:fn|struct|enum|trait|type|const|static|union|mod|macro_rules!)\s+({IDENT})")


def blank(s):
    return re.sub(r"[^\n]", " ", s)


def closing(text, i):
    """Index just past the brace that closes the `{` at text[i]."""
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            break
    return j + 1


def code_of(text):
    """The file's code: comments, strings and test modules blanked, newlines kept."""
    text = NOISE.sub(lambda m: blank(m.group()), text)
    while (m := TEST_MOD.search(text)):
        end = closing(text, m.end() - 1)
        text = text[:m.start()] + blank(text[m.start():end]) + text[end:]
    return text


def use_paths(body, at):
    """Expand a `use` tree: [(segments, offset of its last token, name bound)], `self` leaves
    folded in; the name is the `as` rename, the last segment, or "*" for a glob."""
    toks = [(m.group(), at + m.start()) for m in TOKEN.finditer(body)]
    out, i = [], 0

    def tree(prefix):
        nonlocal i
        segs, pos, name = list(prefix), at, None
        while i < len(toks):
            t, p = toks[i]
            if t == "{":
                i += 1
                while i < len(toks) and toks[i][0] != "}":
                    tree(segs)
                    if i < len(toks) and toks[i][0] == ",":
                        i += 1
                i += 1
                return
            if t in (",", "}"):
                break
            if t == "as":
                name = toks[i + 1][0] if i + 1 < len(toks) else None
                i += 2
                break
            if t == "*":
                name = "*"
            elif t != "::":
                segs += [t] if t != "self" or not segs else []
                pos = p
            i += 1
        out.append((segs, pos, name or (segs[-1] if segs else "")))

    while i < len(toks):
        tree([])
        i += 1  # the `,` (or a stray token) after a top-level tree
    return out


def module_of(rel):
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "mod" or parts == ["lib"] or parts == ["main"]:
        parts = parts[:-1]
    return tuple(parts)


def top(f):
    """The top-level module a file belongs to: `config/read.rs` -> config, `gateway.rs` -> gateway."""
    return Path(f).parts[0].removesuffix(".rs")


def build(src, aliases=True):
    files = {}
    for p in sorted(src.rglob("*.rs")):
        rel = p.relative_to(src)
        if p.name == "tests.rs" or "tests" in rel.parts[:-1]:
            continue
        files[str(rel)] = p
    modmap = {module_of(Path(f)): f for f in files if f != "main.rs"}
    parsed, scope, globs, defs = {}, {}, {}, {}

    def absolute(f, mod, segs):
        """Crate-relative path of `segs` written in module `mod` of file f, or None."""
        if f == "main.rs":
            return segs[1:] if segs[0] == "wafka" else None
        if segs[0] == "crate":
            return segs[1:]
        if segs[0] in ("self", "super"):
            base, k = list(mod), 0
            while k < len(segs) and segs[k] in ("self", "super"):
                base = base[:-1] if segs[k] == "super" else base
                k += 1
            return base + segs[k:]
        return list(mod) + segs if mod + (segs[0],) in modmap else None

    # Pass 1: parse every file; the names each module defines and re-exports.
    for f, p in files.items():
        code = code_of(p.read_text(encoding="utf-8", errors="replace"))
        home = module_of(Path(f))
        inline = [(m.start(), closing(code, m.end() - 1), m.group(1))
                  for m in INLINE_MOD.finditer(code)]

        def here(pos, home=home, inline=inline):
            return home + tuple(n for s, e, n in inline if s <= pos < e)

        uses = [(segs, pos, name, bool(m.group(1)))
                for m in USE.finditer(code) for segs, pos, name in use_paths(m.group(2), m.start(2))]
        rest = USE.sub(lambda m: blank(m.group()), code)
        paths = [(re.split(r"\s*::\s*", m.group(1)), m.start())
                 for m in re.finditer(rf"(?<![\w$:])({IDENT}(?:\s*::\s*{IDENT})+)", rest)]
        parsed[f] = code, here, uses, paths
        defs[home] = {m.group(1) for m in DEF.finditer(code)}
        for segs, pos, name, pub in (u for u in uses if u[0] and u[3]):
            full = absolute(f, here(pos), segs)
            if full and name == "*":
                globs.setdefault(here(pos), []).append(full)
            elif full or segs[0] not in defs[home]:  # None: another crate's, no edge
                scope.setdefault(here(pos), {})[name] = full

    def resolve(full, depth=0):
        """The file that defines the item at crate-relative path `full`."""
        k = next(k for k in range(len(full), -1, -1) if tuple(full[:k]) in modmap)
        mod, x, rest = tuple(full[:k]), full[k:k + 1], full[k + 1:]
        if x and depth < 16:
            if x[0] in scope.get(mod, {}):
                to = scope[mod][x[0]]
                return to and resolve(to + rest, depth + 1)
            for g in globs.get(mod, []) if x[0] not in defs.get(mod, ()) else []:
                if x[0] in defs.get(tuple(g), ()) or x[0] in scope.get(tuple(g), {}):
                    return resolve(g + x + rest, depth + 1)
        return modmap[mod]

    # Pass 2: the edges, from `use` trees (not `pub use`) and paths in code. With aliases, a
    # `use` naming a module (`use crate::server;`) is no edge; `server::serve(..)` in code is.
    edges = {f: {} for f in files}  # A -> {B: [line numbers]}
    for f, (code, here, uses, paths) in parsed.items():
        found, alias = [], {}
        for segs, pos, name, pub in (u for u in uses if u[0] and not u[3]):
            full = absolute(f, here(pos), segs)
            if aliases and full and name != "*" and tuple(full) in modmap:
                alias[name] = full
            else:
                found.append((segs, pos))
        for segs, pos in found + paths:
            full = absolute(f, here(pos), segs)
            if full is None and segs[0] in alias:
                full = alias[segs[0]] + segs[1:]
            target = resolve(full) if full is not None else None
            if target and target != f:
                edges[f].setdefault(target, []).append(code.count("\n", 0, pos) + 1)
    return files, edges


def collapse(edges):
    """The graph of top-level modules: {A: {B: [(file, file, line)]}}, edges inside one dropped."""
    out = {top(f): {} for f in edges}
    for f, targets in edges.items():
        for g, lines in targets.items():
            if top(f) != top(g):
                out[top(f)].setdefault(top(g), []).append((f, g, min(lines)))
    return out


def sccs(edges):
    """Tarjan's strongly connected components."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = [stack.pop()]
            while comp[-1] != v:
                comp.append(stack.pop())
            on.difference_update(comp)
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def line(files, f, n):
    return files[f].read_text(encoding="utf-8", errors="replace").splitlines()[n - 1].strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", nargs="?", default=str(Path(__file__).resolve().parents[1] / "runtime/src"))
    ap.add_argument("--edges", metavar="FILE")
    ap.add_argument("--why", nargs=2, metavar=("A", "B"))
    ap.add_argument("--modules", action="store_true", help="collapse to top-level modules")
    ap.add_argument("--no-aliases", action="store_true",
                    help="a `use` of a module is an edge to its file; `alias::item` is not followed")
    ap.add_argument("--bare", action="store_true", help="no effect: child-module paths always count")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the edges inside each cycle")
    a = ap.parse_args()
    files, edges = build(Path(a.src), not a.no_aliases)
    graph = collapse(edges) if a.modules else edges
    if a.edges:
        f, users = a.edges, sorted(x for x in graph if a.edges in graph[x])
        for what, names in (("imports", sorted(graph.get(f, {}))), ("is imported by", users)):
            print(f"{f} {what} ({len(names)}):" + "".join(f"\n  {n}" for n in names))
    elif a.why:
        pairs = graph.get(a.why[0], {}).get(a.why[1], [])
        for src, dst in sorted({p[:2] for p in pairs}) if a.modules else [a.why]:
            for n in sorted(set(edges.get(src, {}).get(dst, []))):
                print(f"{src}:{n}: {line(files, src, n)}" + (f"   -> {dst}" if a.modules else ""))
    elif a.modules:
        mods = graph
        cycles = sorted((c for c in sccs(mods) if len(c) > 1), key=lambda c: (-len(c), c))
        print(f"{len(mods)} top-level modules, {sum(map(len, mods.values()))} edges, "
              f"{len(cycles)} cycles")
        for i, c in enumerate(cycles, 1):
            print(f"\ncycle {i}: {len(c)} modules\n  " + " ".join(c))
            for x in c if a.verbose else []:
                for y in sorted(set(mods[x]) & set(c)):
                    print(f"  {x} -> {y}:")
                    for fx, fy, n in sorted(mods[x][y]):
                        print(f"    {fx} -> {fy}  (line {n}: {line(files, fx, n)})")
    else:
        cycles = sorted((c for c in sccs(edges) if len(c) > 1), key=lambda c: (-len(c), c))
        print(f"{len(files)} files, {sum(map(len, edges.values()))} edges, {len(cycles)} cycles")
        for i, c in enumerate(cycles, 1):
            print(f"\ncycle {i}: {len(c)} files" + "".join(f"\n  {f}" for f in c))
            if a.verbose:
                print("  edges:")
                for x in c:
                    for y in sorted(set(edges[x]) & set(c)):
                        n = min(edges[x][y])
                        print(f"    {x} -> {y}   ({x}:{n}: {line(files, x, n)})")
    return 0


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.stderr.close()
    sys.exit(0)
