"""Progress callbacks for fmin: ``callback(initial=, total=)`` is a context
manager yielding an object with ``update(n)`` (and a settable ``postfix``)."""

import contextlib

from tqdm import tqdm

from .std_out_err_redirect_tqdm import std_out_err_redirect_tqdm


@contextlib.contextmanager
def tqdm_progress_callback(initial, total):
    with std_out_err_redirect_tqdm() as wrapped_stdout, tqdm(
        total=total,
        file=wrapped_stdout,
        postfix={"best loss": "?"},
        disable=False,
        dynamic_ncols=True,
        unit="trial",
        initial=initial,
    ) as pbar:
        yield pbar


@contextlib.contextmanager
def no_progress_callback(initial, total):
    class NoProgressContext:
        postfix = None

        def update(self, n):
            pass

    yield NoProgressContext()


default_callback = tqdm_progress_callback
