"""YAML that users hand us, bounded before it is expanded: size, nesting and alias expansion.

PyYAML's safe loader refuses arbitrary objects but not hostile shapes: nine anchors of nine aliases
each (a "billion laughs") load into a small graph of shared lists that explodes into billions of
nodes as soon as anything walks it (a JSON dump, the mutation, a diff), and ten thousand nested
``[`` end in a RecursionError. `load_all` refuses those while composing, before any object is
constructed: a text longer than `MAX_BYTES`, a node nested deeper than `MAX_DEPTH`, or a
document whose nodes, each alias counted as the whole subtree it stands for, exceed `MAX_NODES`.
Each refusal is a `YamlLimit` (a ``yaml.YAMLError``) with one line saying which limit and where.
Pure: PyYAML and the standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_BYTES: Final = 8 * 1024 * 1024
"""Longest text read (8 MiB; a large Kubernetes List is a few hundred KiB)."""
MAX_DEPTH: Final = 64
"""Deepest nesting of mappings and sequences (a Pod template is about 15 levels)."""
MAX_NODES: Final = 1_000_000
"""Most nodes of one document once every alias is expanded."""


class YamlLimit(yaml.YAMLError):
    """The text is beyond one of the limits: refused before it is expanded."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        """One line: which limit, and what was found."""
        self.line = line
        """1-based line where it was found, when known."""

    def __str__(self) -> str:
        return self.problem if self.line is None else f"{self.problem} (line {self.line})"


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that counts depth and expanded nodes while it composes each document."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._weights: dict[int, int] = {}

    def compose_document(self) -> Node | None:
        self._weights = {}
        node: Node | None = super().compose_document()
        return node

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
                raise YamlLimit(f"nested deeper than {MAX_DEPTH} levels", mark.line + 1)
            node: Node | None = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None:
            self._weigh(node)
        return node

    def _weigh(self, node: Node) -> None:
        """Record the expanded size of ``node`` (an alias is the node it names, weighed once)."""
        if id(node) in self._weights:
            return
        weight = 1
        if isinstance(node, SequenceNode):
            weight += sum(self._weights.get(id(child), 1) for child in node.value)
        elif isinstance(node, MappingNode):
            weight += sum(
                self._weights.get(id(k), 1) + self._weights.get(id(v), 1) for k, v in node.value
            )
        if weight > MAX_NODES:
            raise YamlLimit(
                f"expands to more than {MAX_NODES} nodes (aliases of aliases?)",
                node.start_mark.line + 1,
            )
        self._weights[id(node)] = weight


def check_size(text: str) -> None:
    """`YamlLimit` when ``text`` is longer than `MAX_BYTES` (measured in characters)."""
    if len(text) > MAX_BYTES:
        raise YamlLimit(f"larger than the {MAX_BYTES // (1024 * 1024)} MiB limit")


def load_all(text: str) -> Iterator[Any]:
    """Every document of ``text``, as ``yaml.safe_load_all`` gives them, within the limits."""
    check_size(text)
    loader = _BoundedLoader(text)
    try:
        while loader.check_data():  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            yield loader.get_data()
    finally:
        loader.dispose()


def load(text: str) -> Any:
    """The one document of ``text`` (None when empty), as ``yaml.safe_load``, within the limits."""
    check_size(text)
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
