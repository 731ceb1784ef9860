"""Which of a lesson's cells the checker must run: those the tests need, found by reading the code.

The checker runs the solution once per batch to give the tests their reference names. Most of a
lesson is explanation and measurement (a timing comparison, a plot) that no test reads. Walking the
cells backwards from the tests' code, a cell is kept if it defines a name still needed, or changes one
in place (``df[c] = ...``, ``spark.conf.set(...)``, ``model.fit(...)`` on its own line); its own names
then become needed. The setup cell always runs. The harness proves the slice enough: the solution
must pass every test in the checker.
"""

import ast
import builtins

BUILTINS = set(dir(builtins))


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def defines(source):
    """Names a cell binds or changes in place (its top level)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), True  # an unreadable cell: keep it to be safe
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        names.add(sub.id)
                root = _root(target)
                if root:
                    names.add(root)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            root = _root(node.value)
            if root:
                names.add(root)  # a call on its own line may change its object
        else:
            for sub in ast.walk(node):  # for/with/if/try: whatever they bind
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, ast.Expr) and isinstance(sub.value, ast.Call) and _root(sub.value):
                    names.add(_root(sub.value))
    return names, False


def uses(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - BUILTINS


def needed_cells(cells, test_sources, always=("setup",)):
    """The indices of ``cells`` ([(id, source)], in order) that the tests' code needs, in order."""
    needed = set().union(*(uses(s) for s in test_sources)) if test_sources else set()
    keep = []
    for index in range(len(cells) - 1, -1, -1):
        cell_id, source = cells[index]
        names, unreadable = defines(source)
        if unreadable or cell_id in always or names & needed:
            keep.append(index)
            needed |= uses(source)
    return sorted(keep)
