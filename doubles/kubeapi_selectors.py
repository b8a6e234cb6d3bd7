"""The ``fieldSelector`` of the API double's lists and watches (`doubles.kubeapi`).

Every resource has two selectable fields, ``metadata.name`` and ``metadata.namespace``; the API
server answers 400 for another. A selector that is exactly ``metadata.name=<name>`` also names the
request for authorization: RBAC rules with ``resourceNames`` allow such a list or watch, and no
other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSelector:
    """A ``fieldSelector`` on the fields every resource has: ``metadata.name`` and
    ``metadata.namespace``, each ``=`` / ``==`` (equal) or ``!=``; requirements ANDed."""

    requirements: tuple[tuple[str, bool, str], ...] = ()
    """(field, equal, value) of each requirement."""

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        found = []
        for part in (p.strip() for p in text.split(",") if p.strip()):
            operator = next((o for o in ("!=", "==", "=") if o in part), None)
            if operator is None:
                raise ValueError(f"invalid field selector: {part!r}: no operator")
            key, value = (s.strip() for s in part.split(operator, 1))
            if key not in {"metadata.name", "metadata.namespace"}:
                raise ValueError(f'field label not supported: "{key}"')
            found.append((key, operator != "!=", value))
        return cls(tuple(found))

    def single_name(self) -> str | None:
        """The name of a selector that is exactly ``metadata.name=<name>``, as the API server
        reads a request's name from it for authorization."""
        if len(self.requirements) == 1:
            key, equal, value = self.requirements[0]
            if key == "metadata.name" and equal:
                return value
        return None

    def matches(self, namespace: str | None, name: str) -> bool:
        fields = {"metadata.name": name, "metadata.namespace": namespace or ""}
        return all((fields[key] == value) == equal for key, equal, value in self.requirements)
