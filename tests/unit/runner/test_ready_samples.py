"""Samples are handed on in order, each once all of its items are back, whatever the order
in which the packed requests return."""

from __future__ import annotations

from kiseki.runner.evaluate import ReadySamples


def test_one_item_per_sample_in_order() -> None:
    ready = ReadySamples[str](6, 1)
    assert ready.add(0, ["a", "b"]) == range(0, 2)
    assert ready.add(2, ["c", "d", "e", "f"]) == range(2, 6)
    assert ready.outputs == ["a", "b", "c", "d", "e", "f"]


def test_a_late_first_request_holds_back_the_later_samples_until_it_returns() -> None:
    ready = ReadySamples[str](6, 1)
    assert ready.add(4, ["e", "f"]) == range(0, 0)
    assert ready.add(2, ["c", "d"]) == range(0, 0)
    assert ready.add(0, ["a", "b"]) == range(0, 6)


def test_a_sample_with_several_items_waits_for_all_of_them() -> None:
    ready = ReadySamples[int](6, 3)  # two samples of three labels each
    assert ready.add(0, [1, 2]) == range(0, 0)
    assert ready.add(2, [3, 4]) == range(0, 1)
    assert ready.add(4, [5, 6]) == range(1, 2)
