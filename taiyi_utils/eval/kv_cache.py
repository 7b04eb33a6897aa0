"""A key/value cache that grows in place and whose rows can be refilled, for continuous batching.

transformers' DynamicLayer concatenates at every step, copying the whole cache: at 16 rows of
800 tokens the copy made a SmolLM2-135M decode step 443 ms instead of 202 ms on two CPU cores.
RoomyLayer keeps its keys and values as a window of columns in larger buffers: a decode step
writes into spare columns on the right, dropping unused columns on the left moves the window,
a new prompt is written into a finished answer's row, and a batch that shrinks moves its last
rows into the gaps. The whole cache is copied only when rows are added or the buffers run out
of columns.
"""
from __future__ import annotations

from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


class RoomyLayer(DynamicLayer):
    """A DynamicLayer whose keys and values are the columns ``start:end`` of buffers; built by ``aligned``.

    Every buffer column left of ``end`` has been written (zeros or old keys), so masked columns
    never hold NaN, which would leak through attention's zero weights.
    """

    room = 256

    @classmethod
    def aligned(cls, blocks: list[tuple], width: int = 0, room: int = room) -> RoomyLayer:
        """A layer stacking ``blocks`` of (keys, values) by rows, each right-aligned with zeros on its left."""
        keys, values = blocks[0]
        width, rows = max(width, *(k.shape[-2] for k, _ in blocks)), sum(k.shape[0] for k, _ in blocks)
        layer = cls()
        layer.lazy_initialization(keys, values)
        layer.buffers = [t.new_empty(rows, t.shape[1], width + room, t.shape[-1]) for t in (keys, values)]
        row = 0
        for block in blocks:
            for buffer, tensor in zip(layer.buffers, block):
                pad = width - tensor.shape[-2]
                buffer[row:row + tensor.shape[0], :, :pad] = 0
                buffer[row:row + tensor.shape[0], :, pad:width] = tensor
            row += block[0].shape[0]
        layer._window(0, width)
        return layer

    def _window(self, start: int, end: int) -> None:
        self.start, self.end = start, end
        self.keys, self.values = (buffer[..., start:end, :] for buffer in self.buffers)

    def _regrow(self, width: int, room: int) -> None:
        """Copy the window into new buffers ``width`` columns wide (padding on the left) with ``room`` spare."""
        grown = RoomyLayer.aligned([(self.keys, self.values)], width, room)
        self.buffers = grown.buffers
        self._window(grown.start, grown.end)

    def update(self, key_states, value_states, *args, **kwargs):
        new = key_states.shape[-2]
        if self.end + new > self.buffers[0].shape[-2]:
            self._regrow(self.end - self.start, max(self.room, new))
        for buffer, states in zip(self.buffers, (key_states, value_states)):
            buffer[..., self.end:self.end + new, :] = states
        self._window(self.start, self.end + new)
        return self.keys, self.values

    def place(self, row: int, keys, values) -> None:
        """Write one prompt's keys and values (a row of ``length`` columns) into ``row``, right-aligned;
        the window widens on the left when the prompt is longer than it."""
        length = keys.shape[-2]
        if length > self.end - self.start:
            if length > self.end:
                self._regrow(length, self.buffers[0].shape[-2] - self.end)
            else:
                self._window(self.end - length, self.end)
        for buffer, states in zip(self.buffers, (keys, values)):
            buffer[row, :, self.end - length:self.end] = states[0]

    def move(self, source: int, target: int) -> None:
        """Copy row ``source`` over row ``target``."""
        for buffer in self.buffers:
            buffer[target, :, self.start:self.end] = buffer[source, :, self.start:self.end]

    def truncate(self, rows: int) -> None:
        """Keep the first ``rows`` rows (a view, no copy)."""
        self.buffers = [buffer[:rows] for buffer in self.buffers]
        self._window(self.start, self.end)

    def trim(self, columns: int) -> None:
        """Drop the first ``columns`` of the window, which no live row attends to."""
        self._window(self.start + columns, self.end)


def roomy_cache(layers: list[list[tuple]], width: int = 0) -> DynamicCache:
    """A DynamicCache of roomy layers, each stacking its blocks of (keys, values) right-aligned at ``width`` or more."""
    cache = DynamicCache()
    cache.layers = [RoomyLayer.aligned(blocks, width) for blocks in layers]
    return cache
