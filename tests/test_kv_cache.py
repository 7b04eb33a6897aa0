"""RoomyLayer keeps each row's keys right-aligned in a window of columns, whatever happens to the window."""
from __future__ import annotations

import torch

from taiyi_utils.eval.kv_cache import RoomyLayer


def block(rows: int, length: int, first: float) -> tuple:
    """Keys and values [rows, 1 head, length, 1] numbered from ``first``, so every column can be told apart."""
    keys = torch.arange(rows * length, dtype=torch.float32).reshape(rows, 1, length, 1) + first
    return keys, -keys


def row_of(layer: RoomyLayer, row: int) -> list[float]:
    assert torch.equal(layer.values, -layer.keys)
    return layer.keys[row, 0, :, 0].tolist()


def test_aligned_pads_on_the_left_and_update_writes_into_spare_columns():
    layer = RoomyLayer.aligned([block(1, 2, 1), block(1, 3, 10)], room=1)
    assert (row_of(layer, 0), row_of(layer, 1)) == ([0, 1, 2], [10, 11, 12])
    layer.update(*block(2, 1, 20))  # fills the one spare column in place
    layer.update(*block(2, 1, 30))  # no room left: copied into larger buffers
    assert (row_of(layer, 0), row_of(layer, 1)) == ([0, 1, 2, 20, 30], [10, 11, 12, 21, 31])


def test_place_trim_and_widen_keep_rows_right_aligned():
    layer = RoomyLayer.aligned([block(2, 4, 0)], room=8)
    layer.trim(2)
    assert (row_of(layer, 0), row_of(layer, 1)) == ([2, 3], [6, 7])
    layer.place(0, *block(1, 1, 50))  # shorter than the window
    assert row_of(layer, 0) == [2, 50]
    layer.place(1, *block(1, 3, 60))  # longer: the window widens left over columns written before
    assert (row_of(layer, 0), row_of(layer, 1)) == ([1, 2, 50], [60, 61, 62])
    layer.place(0, *block(1, 6, 70))  # longer than all columns so far: copied, zeros on the left
    assert (row_of(layer, 0), row_of(layer, 1)) == ([70, 71, 72, 73, 74, 75], [0, 0, 0, 60, 61, 62])
    layer.update(*block(2, 1, 80))
    assert row_of(layer, 1) == [0, 0, 0, 60, 61, 62, 81]
