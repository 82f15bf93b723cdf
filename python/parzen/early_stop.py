"""Early-stopping rules for ``fmin(early_stop_fn=...)``.

An early-stop function is called as ``fn(trials, *state)`` after every
iteration and returns ``(stop, new_state)``; ``state`` starts empty.
"""

import logging

from .base import JOB_STATE_DONE, JOB_STATE_ERROR

logger = logging.getLogger(__name__)


def _last_finished(docs):
    """The last document with an outcome (DONE or ERROR), or None. Only the
    trials still running at the end of the list are stepped over."""
    for doc in reversed(docs):
        if doc.get("state") in (JOB_STATE_DONE, JOB_STATE_ERROR):
            return doc
    return None


def no_progress_loss(iteration_stop_count=20, percent_increase=0.0):
    """Stop when the best loss has not improved (by more than
    ``percent_increase`` percent) for ``iteration_stop_count`` trials.

    Unlike hyperopt, a last trial without a loss (a failed or lossless
    result) does not raise KeyError: it counts as a trial without progress.
    The trial looked at is the last *finished* one: with parallel trials
    (ParallelTrials, SparkTrials, max_queue_len > 1) the last document is
    usually one still running, and reading its empty result would leave
    the best loss unset for as long as that lasts (serially the two are the
    same trial, as in hyperopt).
    """

    def stop_fn(trials, best_loss=None, iteration_no_progress=0):
        last = _last_finished(trials.trials)
        new_loss = None
        if last is not None:
            new_loss = last["result"].get("loss")
            if new_loss is not None and new_loss != new_loss:  # NaN
                new_loss = None
        if best_loss is None:
            return False, [new_loss, iteration_no_progress + 1]
        best_loss_threshold = best_loss - abs(
            best_loss * (percent_increase / 100.0))
        if new_loss is not None and new_loss < best_loss_threshold:
            best_loss = new_loss
            iteration_no_progress = 0
        else:
            iteration_no_progress += 1
            logger.debug(
                "No progress made: %d iteration on %d. best_loss=%.2f, "
                "best_loss_threshold=%.2f, new_loss=%s",
                iteration_no_progress, iteration_stop_count, best_loss,
                best_loss_threshold, new_loss)
        return (iteration_no_progress >= iteration_stop_count,
                [best_loss, iteration_no_progress])

    return stop_fn
