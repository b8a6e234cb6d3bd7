"""Reading untrusted JSON: a value of the wrong type reads as absent, never as an exception."""

from __future__ import annotations

from webhook.core.rules.ops import is_tls_projection
from webhook.core.shapes import uses_volume


def test_unhashable_names_in_an_object_are_foreign_not_a_crash() -> None:
    """JSON may put a list or a map where a name belongs: it matches nothing and never raises."""
    container = {
        "volumeMounts": [{"name": []}, {"name": {"a": 1}}],
        "volumeDevices": [{"name": [1]}],
    }
    assert uses_volume(container, frozenset({"data"})) is False
    assert uses_volume({"volumeMounts": [{"name": "data"}]}, frozenset({"data"})) is True
    volume = {"name": "v", "projected": {"sources": [{"secret": {"name": ["x"]}}]}}
    assert is_tls_projection(volume, frozenset({"x"})) is False
    assert is_tls_projection(
        {"name": "v", "projected": {"sources": [{"secret": {"name": "x"}}]}}, frozenset({"x"})
    )
