"""The decoder's KV cache: keys and values kept in buffers with spare
columns, and the layout that lets rows of separate prompt passes decode as
one batch.

transformers' `DynamicLayer` grows by concatenation, which copies a layer's
whole cache at every decoding step: at 128 rows and 100 columns on 2 CPU
cores, 60 copies of about 10 MB per step.  `SpareColumnsLayer` writes the
step's column into room kept at the end and copies only when the room runs
out, every `SPARE_COLUMNS` steps.
"""
from __future__ import annotations

import functools
import inspect

SPARE_COLUMNS = 32


def cache_argument(model) -> str:
    """The name under which `model`'s forward takes a KV cache: `cache` from
    transformers 5.24 (where `past_key_values` is deprecated, to be removed
    in 5.40), `past_key_values` before."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return _cache_argument(type(base))


@functools.cache
def _cache_argument(model_class) -> str:
    parameters = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def with_cache(model, cache, **inputs) -> dict:
    """`inputs` and the cache, named as `model` takes it."""
    return inputs | {cache_argument(model): cache}


def returned_cache(output):
    """The KV cache a forward pass returned, under either name."""
    cache = output.get("cache")
    return output.past_key_values if cache is None else cache


def joinable(cache) -> bool:
    """Whether rows can be laid into this cache: transformers before per-layer
    caches cannot, so its prompt pass runs whole and its batches drain before
    the next prompts start."""
    return hasattr(cache, "layers")


@functools.cache   # built on first use: transformers is imported lazily
def _spare_layer_class():
    from transformers.cache_utils import DynamicLayer

    class SpareColumnsLayer(DynamicLayer):
        """A `DynamicLayer` whose keys and values are views of the first
        `columns` columns of larger buffers."""

        def __init__(self, keys_buffer, values_buffer, columns: int):
            super().__init__()
            self.dtype, self.device = keys_buffer.dtype, keys_buffer.device
            self.is_initialized = True
            self._buffers = [keys_buffer, values_buffer]
            self._show(columns)

        def _show(self, columns: int, rows: int | None = None) -> None:
            rows = self._buffers[0].shape[0] if rows is None else rows
            self.keys, self.values = (b[:rows, :, :columns] for b in self._buffers)

        def update(self, key_states, value_states, *args, **kwargs):
            used, new = self.keys.shape[2], key_states.shape[2]
            if used + new > self._buffers[0].shape[2]:
                self._buffers = [with_room(s, max(new, SPARE_COLUMNS))
                                 for s in (self.keys, self.values)]
            rows = len(key_states)
            self._buffers[0][:rows, :, used:used + new] = key_states
            self._buffers[1][:rows, :, used:used + new] = value_states
            self._show(used + new, rows)
            return self.keys, self.values

        def batch_select_indices(self, indices) -> None:
            used, moves = self.keys.shape[2], _moves_in_place(indices)
            if moves is None:
                self._buffers = [b[indices] for b in self._buffers]
                self._show(used)
                return
            for b in self._buffers:
                b[moves[0]] = b[moves[1]]
            self._show(used, len(indices))

        def batch_repeat_interleave(self, repeats: int) -> None:
            used = self.keys.shape[2]
            self._buffers = [b[:len(self.keys)].repeat_interleave(repeats, dim=0)
                             for b in self._buffers]
            self._show(used)

    return SpareColumnsLayer


def _moves_in_place(indices):
    """(destination rows, source rows) that keep the rows `indices` in place
    in the first len(indices) rows, or None where a source would be
    overwritten first: each moved row must come from past the kept ones, as
    `filled_from_end` orders them."""
    kept = len(indices)
    at = indices.new_tensor(range(kept))
    moved = (indices != at).nonzero().flatten()
    if len(moved) and int(indices[moved].min()) < kept:
        return None
    return at[moved], indices[moved]


def filled_from_end(kept: list[int]) -> list[int]:
    """An order of the rows `kept` that leaves each kept row among
    the first len(kept) where it is and moves the others, from past them,
    into the gaps: dropping rows then copies only as many rows as it drops."""
    order, last = list(range(len(kept))), set(kept)
    gaps = [j for j in order if j not in last]
    movers = [j for j in kept if j >= len(kept)]
    for gap, mover in zip(gaps, movers):
        order[gap] = mover
    return order


def spare_columns_layer(keys_buffer, values_buffer, columns: int):
    """A cache layer over these buffers, of which `columns` are filled."""
    return _spare_layer_class()(keys_buffer, values_buffer, columns)


def with_room(states, spare: int):
    """`states` [rows, heads, columns, dim] copied into a buffer with `spare`
    more columns."""
    rows, heads, columns, dim = states.shape
    buffer = states.new_empty((rows, heads, columns + spare, dim))
    buffer[:, :, :columns] = states
    return buffer


def laid_out(parts, n: int, n_prefix: int, full: int):
    """One cache for `n` rows holding every part's keys and values in the
    batch's layout, [prefix | padding | each row's rest], with spare columns.

    `parts`: (first row, last row + 1, width, cache) each, where a part's
    cache holds the prefix and then its rows' last `width` columns."""
    cache = parts[0][3]
    for i in range(len(cache.layers)):
        cache.layers[i] = spare_columns_layer(_place(parts, i, "keys", n, n_prefix, full),
                                              _place(parts, i, "values", n, n_prefix, full),
                                              n_prefix + full)
    return cache


def _place(parts, layer: int, field: str, n: int, n_prefix: int, full: int):
    """One layer's keys or values of every part in the batch's layout: the
    prefix, then each part's last `width` columns against the right edge, the
    padding between zero (masked, but a NaN left there would still reach the
    scores); the spare columns are left unwritten."""
    first = getattr(parts[0][3].layers[layer], field)
    _, heads, _, dim = first.shape
    out = first.new_empty((n, heads, n_prefix + full + SPARE_COLUMNS, dim))
    for r0, r1, width, cache in parts:
        states = getattr(cache.layers[layer], field)
        out[r0:r1, :, :n_prefix] = states[:, :, :n_prefix]
        out[r0:r1, :, n_prefix:n_prefix + full - width] = 0
        out[r0:r1, :, n_prefix + full - width:n_prefix + full] = \
            states[:, :, states.shape[2] - width:]
    return out
