"""RoomyLayer keeps each row's keys right-aligned in a window of its buffers, whatever happens to the window."""

from __future__ import annotations

import torch

from taiyi_utils.evaluation.kv_cache import RoomyLayer


def block(rows: int, length: int, first: float) -> tuple:
    """Keys and values [rows, 1 head, length, 1] numbered from ``first``, so every column can be told apart."""
    keys = torch.arange(rows * length, dtype=torch.float32).reshape(rows, 1, length, 1) + first
    return keys, -keys


def window(layer: RoomyLayer) -> list[list[float]]:
    assert torch.equal(layer.values, -layer.keys)
    return layer.keys[:, 0, :, 0].tolist()


def test_prompts_join_free_and_new_rows_and_decode_steps_write_into_spare_columns():
    layer = RoomyLayer.holding(*block(1, 3, 10), rows=1, room=1)
    layer.place(1, *block(1, 2, 20))  # a new row beyond the buffers: copied into more rows
    assert window(layer) == [[10, 11, 12], [0, 20, 21]]
    layer.update(*block(2, 1, 30))  # fills the one spare column in place
    layer.update(*block(2, 1, 40))  # no room left: copied into more columns
    assert window(layer) == [[10, 11, 12, 30, 40], [0, 20, 21, 31, 41]]
    layer.place(0, *block(1, 2, 50))  # a finished answer's row takes a shorter prompt, after zeros
    assert window(layer) == [[0, 0, 0, 50, 51], [0, 20, 21, 31, 41]]


def test_trim_widen_and_compact_keep_rows_right_aligned():
    layer = RoomyLayer.holding(*block(3, 4, 0), rows=3, room=8)
    layer.trim(2)
    assert window(layer) == [[2, 3], [6, 7], [10, 11]]
    layer.place(1, *block(1, 3, 60))  # longer than the window: it widens left, zeroing the new column
    assert window(layer) == [[0, 2, 3], [60, 61, 62], [0, 10, 11]]
    layer.place(0, *block(1, 6, 70))  # longer than all columns so far: copied into wider buffers
    assert window(layer) == [[70, 71, 72, 73, 74, 75], [0, 0, 0, 60, 61, 62], [0, 0, 0, 0, 10, 11]]
    layer.move(2, 0)
    layer.truncate(2)
    layer.update(*block(2, 1, 80))
    assert window(layer) == [[0, 0, 0, 0, 10, 11, 80], [0, 0, 0, 60, 61, 62, 81]]
