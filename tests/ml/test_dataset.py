"""The fixed selection subsets carved out of train splits."""

from __future__ import annotations

from pathlib import Path

from ml.dataset import Sample, in_selection, split_selection


def _files(root: Path, n: int) -> list[Sample]:
    samples = []
    for i in range(n):
        path = root / f"{i}.jpg"
        path.write_bytes(f"image {i}".encode())
        samples.append(Sample(path, i % 3))
    return samples


def test_selection_is_a_fixed_disjoint_share(tmp_path: Path) -> None:
    samples = _files(tmp_path, 400)
    fit, selection = split_selection(samples, 4)
    assert len(fit) + len(selection) == 400
    assert not {s.path for s in fit} & {s.path for s in selection}
    assert 70 <= len(selection) <= 130
    assert split_selection(samples, 4) == (fit, selection)
    assert all(in_selection(s.path, 4) for s in selection)


def test_selection_follows_the_content_not_the_name(tmp_path: Path) -> None:
    samples = _files(tmp_path, 200)
    chosen = {s.path.read_bytes() for s in split_selection(samples, 4)[1]}
    for s in samples:  # same bytes under other names: same choice
        s.path.rename(s.path.with_name("renamed-" + s.path.name))
    moved = [Sample(s.path.with_name("renamed-" + s.path.name), s.label) for s in samples]
    assert {s.path.read_bytes() for s in split_selection(moved, 4)[1]} == chosen


def test_no_selection(tmp_path: Path) -> None:
    samples = _files(tmp_path, 10)
    assert split_selection(samples, 0) == (samples, [])
