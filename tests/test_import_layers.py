"""mmpfcn's import rule, read from the source (nothing is imported).

======================  ==============================================
Code in                 May not import
======================  ==============================================
``mmpfcn/utils/``       any other part of mmpfcn (it is the bottom)
``mmpfcn/models/``      ``mmpfcn.datasets``, ``.engine``,
                        ``.evaluation``, ``.apis``
``mmpfcn/evaluation/``  any other part of mmpfcn than ``mmpfcn.utils``
``mmpfcn/`` (all)       ``tools``, ``projects``, ``demo``;
                        ``mmpfcn.apis`` (only ``mmpfcn/apis/`` itself
                        and ``mmpfcn/__init__.py`` may)
======================  ==============================================

and no module of mmpfcn imports itself through others (no import cycles).
Every import statement counts, also those inside functions.
"""
import ast
import os
import os.path as osp
from typing import Dict, Iterator, List, Set, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PACKAGE = 'mmpfcn'
OUTSIDE = ('tools', 'projects', 'demo')
MODELS_MAY_NOT_IMPORT = ('datasets', 'engine', 'evaluation', 'apis')
EVALUATION_MAY_IMPORT = ('evaluation', 'utils')


def package_modules(root: str = REPO_ROOT) -> Dict[str, str]:
    """Dotted name to file of every module of the package (a package is
    named after its ``__init__.py``); hidden folders such as ``.mim`` are
    skipped."""
    modules = {}
    for folder, dirs, files in os.walk(osp.join(root, PACKAGE)):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith(('.', '__pycache__')))
        parts = osp.relpath(folder, root).split(os.sep)
        for name in sorted(files):
            if name.endswith('.py'):
                stem = name[:-3]
                dotted = parts if stem == '__init__' else parts + [stem]
                modules['.'.join(dotted)] = osp.join(folder, name)
    return modules


def imported_names(module: str, path: str,
                   known: Set[str]) -> Iterator[Tuple[int, str]]:
    """``(line, dotted name)`` of everything ``module`` imports, relative
    imports resolved; ``from X import y`` names ``X.y`` where that is a
    module of the package, else ``X``."""
    with open(path, encoding='utf-8') as file:
        tree = ast.parse(file.read(), path)
    is_package = osp.basename(path) == '__init__.py'
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = module.split('.')
                anchor = parts[:len(parts) - node.level + is_package]
                base = '.'.join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f'{base}.{alias.name}'
                yield node.lineno, full if full in known else base


def import_table(root: str = REPO_ROOT) -> List[Tuple[str, int, str]]:
    """``(importer, line, imported)`` for every import in the package."""
    modules = package_modules(root)
    known = set(modules)
    return [(module, line, name) for module, path in modules.items()
            for line, name in imported_names(module, path, known)]


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + '.')


def violations(root: str = REPO_ROOT) -> List[str]:
    """Every import that breaks a rule of the module docstring's table."""
    found = []
    for module, line, name in import_table(root):
        where = f'{module}:{line} imports {name}'
        if within(module, f'{PACKAGE}.utils') and within(
                name, PACKAGE) and not within(name, f'{PACKAGE}.utils'):
            found.append(f'{where}: utils imports no other part of mmpfcn')
        if within(module, f'{PACKAGE}.models') and any(
                within(name, f'{PACKAGE}.{part}')
                for part in MODELS_MAY_NOT_IMPORT):
            found.append(f'{where}: models may not import it')
        if within(module, f'{PACKAGE}.evaluation') and within(
                name, PACKAGE) and not any(
                    within(name, f'{PACKAGE}.{part}')
                    for part in EVALUATION_MAY_IMPORT):
            found.append(f'{where}: evaluation imports utils only')
        if any(within(name, outside) for outside in OUTSIDE):
            found.append(f'{where}: the package may not import it')
        if within(name, f'{PACKAGE}.apis') and not (
                module == PACKAGE or within(module, f'{PACKAGE}.apis')):
            found.append(f'{where}: only mmpfcn.apis and mmpfcn/__init__.py '
                         'may import mmpfcn.apis')
    return found


def import_cycles(root: str = REPO_ROOT) -> List[List[str]]:
    """The strongly connected groups of more than one module (or a module
    importing itself) in the package's import graph (Tarjan's algorithm)."""
    graph: Dict[str, Set[str]] = {
        name: set()
        for name in package_modules(root)
    }
    for module, _, name in import_table(root):
        if name in graph:
            graph[module].add(name)
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1 or node in graph[node]:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_imports_follow_the_layers():
    assert violations() == []


def test_no_import_cycles():
    assert import_cycles() == []


def test_checker_sees_relative_and_lazy_imports(tmp_path):
    """The checker itself: relative imports resolve to the right module,
    imports inside functions count, and a cycle is found."""
    files = {
        '__init__.py': 'from . import utils\n',
        'utils/__init__.py': 'from .io import dump\n',
        'utils/io.py': 'def dump():\n    from ..models import Net\n',
        'models/__init__.py': 'from .net import Net\n',
        'models/net.py': 'from ..utils.io import dump\nimport tools.x\n',
        'evaluation/metric.py': 'from ..utils import io\n'
                                'from ..models.net import Net\n',
    }
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert violations(str(tmp_path)) == [
        'mmpfcn.evaluation.metric:2 imports mmpfcn.models.net: evaluation '
        'imports utils only',
        'mmpfcn.models.net:2 imports tools.x: the package may not import it',
        'mmpfcn.utils.io:2 imports mmpfcn.models: utils imports no other '
        'part of mmpfcn',
    ]
    assert import_cycles(str(tmp_path)) == [[
        'mmpfcn.models', 'mmpfcn.models.net', 'mmpfcn.utils.io'
    ]]
