"""transformers' own progress bars off while we load or save a checkpoint.

transformers 5 draws a tqdm bar for every ``from_pretrained`` ("Loading weights") and ``save_pretrained``
("Writing model shards"). They take a fraction of a second here, and in a log file or CI, where a bar cannot redraw,
each leaves its updates as stray lines between our own output. Only these bars go: transformers' warnings (missing
or unexpected weights, ...) still print, and the Hugging Face hub's download bars (a ``download=true`` fetch, which
happens before loading) are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_transformers_progress_bars() -> Iterator[None]:
    """Within the block, every bar transformers creates is its silent stand-in; the previous hook is restored."""
    from transformers.utils import logging

    previous = logging.set_tqdm_hook(lambda factory, args, kwargs: logging.EmptyTqdm(*args, **kwargs))
    try:
        yield
    finally:
        logging.set_tqdm_hook(previous)
