"""``fmin``: minimize a function over a search space (hyperopt.fmin).

The loop (:class:`FMinIter`) asks the algorithm for NEW trial documents,
inserts them, evaluates them and repeats until ``max_evals`` trials were
queued, the timeout or loss threshold is reached, the algorithm returns no
document or ``early_stop_fn`` says stop. Its bookkeeping is incremental:
with a plain :class:`~parzen.base.Trials` each iteration costs O(1)
amortised (no scans of the whole history), where hyperopt rescans all
documents several times per iteration.
"""

import functools
import logging
import os
import sys
import time

import cloudpickle
import numpy as np

from . import base, progress, pyll
from . import store as _store
from . import tracking as _tracking
from .base import (
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    JOB_VALID_STATES,
    validate_loss_threshold,
    validate_timeout,
)
from .exceptions import InvalidAnnotatedParameter

logger = logging.getLogger(__name__)

pickler = cloudpickle
timer = time.perf_counter


def generate_trials_to_calculate(points):
    """A Trials holding one NEW document per point (label -> stored value,
    e.g. an option *index* for hp.choice), evaluated first by fmin."""
    trials = base.Trials()
    new_trials = [
        {
            "tid": tid,
            "state": base.JOB_STATE_NEW,
            "spec": None,
            "result": {"status": "new"},
            "misc": {
                "tid": tid,
                "cmd": ("domain_attachment", "FMinIter_Domain"),
                "workdir": None,
                "idxs": {key: [tid] for key in point.keys()},
                "vals": {key: [value] for key, value in point.items()},
            },
            "exp_key": None,
            "owner": None,
            "version": 0,
            "book_time": None,
            "refresh_time": None,
        }
        for tid, point in enumerate(points)
    ]
    trials.insert_trial_docs(new_trials)
    return trials


def fmin_pass_expr_memo_ctrl(f):
    """Mark ``f`` to be called as ``f(expr=, memo=, ctrl=)`` by fmin."""
    f.fmin_pass_expr_memo_ctrl = True
    return f


def partial(fn, **kwargs):
    """functools.partial that keeps ``fmin_pass_expr_memo_ctrl``."""
    rval = functools.partial(fn, **kwargs)
    if hasattr(fn, "fmin_pass_expr_memo_ctrl"):
        rval.fmin_pass_expr_memo_ctrl = fn.fmin_pass_expr_memo_ctrl
    return rval


def __objective_fmin_wrapper(func):
    """Wrap a function whose arguments are annotated with hp nodes so that
    it can be called with the evaluated dict of those arguments."""

    @functools.wraps(func)
    def _objective(kwargs):
        return func(**kwargs)

    return _objective


_objective_fmin_wrapper = __objective_fmin_wrapper


class _RandomStateGenerator:
    """Lets a legacy numpy RandomState stand where a Generator is used."""

    def __init__(self, rs):
        self._rs = rs

    def integers(self, high):
        return self._rs.randint(high)


def _as_generator(rstate):
    if rstate is None:
        env_rseed = os.environ.get("HYPEROPT_FMIN_SEED", "") or \
            os.environ.get("PARZEN_FMIN_SEED", "")
        if env_rseed:
            return np.random.default_rng(int(env_rseed))
        return np.random.default_rng()
    if isinstance(rstate, (int, np.integer)) and not isinstance(rstate, bool):
        return np.random.default_rng(int(rstate))
    if isinstance(rstate, np.random.RandomState):
        return _RandomStateGenerator(rstate)
    return rstate


class _Tracker:
    """Incremental state counts over a Trials' documents.

    Remembers how far it has read ``_dynamic_trials`` and which documents
    were NEW or RUNNING; a sync reads only new documents and re-checks the
    open ones. Also tracks the best loss (min over non-None, non-NaN losses
    of finished documents) and whether a listed document left the valid
    states (then ``trials`` needs a full refresh).
    """

    def __init__(self, trials):
        self.trials = trials
        self.reset()

    def reset(self):
        self.dyn = self.trials._dynamic_trials
        self.exp_key = self.trials._exp_key
        self.pos = 0
        self.counts = [0, 0, 0, 0, 0]
        self.open = {}
        self.best_loss = None
        self.invalidated = False
        self.sync()

    def _closed(self, doc):
        if doc["state"] == JOB_STATE_DONE:
            loss = doc["result"].get("loss")
            if loss is not None:
                try:
                    loss = float(loss)
                except (TypeError, ValueError):
                    return
                if loss == loss and (self.best_loss is None
                                     or loss < self.best_loss):
                    self.best_loss = loss

    def sync(self):
        if self.trials._dynamic_trials is not self.dyn:
            self.reset()
            return
        counts = self.counts
        if self.open:
            for k, (doc, old) in list(self.open.items()):
                s = doc["state"]
                if s == old:
                    continue
                counts[old] -= 1
                counts[s] += 1
                if s in (JOB_STATE_NEW, JOB_STATE_RUNNING):
                    self.open[k] = (doc, s)
                else:
                    del self.open[k]
                    self._closed(doc)
                    if s not in JOB_VALID_STATES:
                        self.invalidated = True
        dyn = self.dyn
        if self.pos < len(dyn):
            key = self.exp_key
            for doc in dyn[self.pos:]:
                if key is not None and doc["exp_key"] != key:
                    continue
                s = doc["state"]
                counts[s] += 1
                if s in (JOB_STATE_NEW, JOB_STATE_RUNNING):
                    self.open[id(doc)] = (doc, s)
                else:
                    self._closed(doc)
            self.pos = len(dyn)

    def new_docs(self):
        return [doc for doc, s in self.open.values() if s == JOB_STATE_NEW]


class FMinIter:
    """Object for conducting search experiments."""

    catch_eval_exceptions = False
    pickle_protocol = -1

    def __init__(self, algo, domain, trials, rstate, asynchronous=None,
                 max_queue_len=1, poll_interval_secs=1.0,
                 max_evals=sys.maxsize, timeout=None, loss_threshold=None,
                 verbose=False, show_progressbar=True, early_stop_fn=None,
                 trials_save_file="", observer=None):
        self.algo = algo
        # -- trial hooks (parzen.tracking); NULL does nothing
        self.observer = _tracking.NULL if observer is None else observer
        self.domain = domain
        self.trials = trials
        if not show_progressbar or not verbose:
            self.progress_callback = progress.no_progress_callback
        elif show_progressbar is True:
            self.progress_callback = progress.default_callback
        else:
            self.progress_callback = show_progressbar
        if asynchronous is None:
            self.asynchronous = trials.asynchronous
        else:
            self.asynchronous = asynchronous
        self.poll_interval_secs = poll_interval_secs
        self.max_queue_len = max_queue_len
        self.max_evals = max_evals
        self.early_stop_fn = early_stop_fn
        self.early_stop_args = []
        self.trials_save_file = trials_save_file
        self.timeout = timeout
        self.loss_threshold = loss_threshold
        self.start_time = timer()
        self.rstate = _as_generator(rstate)
        self.verbose = verbose

        if self.asynchronous and not hasattr(self.trials, "_spark"):
            if "FMinIter_Domain" in trials.attachments:
                logger.warning("over-writing old domain trials attachment")
            msg = pickler.dumps(domain)
            # -- sanity check for unpickling
            pickler.loads(msg)
            trials.attachments["FMinIter_Domain"] = msg

        # -- the O(1) bookkeeping needs our own Trials storage semantics
        cls = type(trials)
        self._fast = (
            not self.asynchronous
            and isinstance(trials, base.Trials)
            and cls.refresh is base.Trials.refresh
            and cls.count_by_state_unsynced is
            base.Trials.count_by_state_unsynced
            and cls.count_by_state_synced is base.Trials.count_by_state_synced
            and cls.losses is base.Trials.losses
        )
        self._tracker = None

    # --------------------------------------------------------- helpers

    def _sync(self):
        if self._tracker is None:
            self._tracker = _Tracker(self.trials)
        else:
            self._tracker.sync()
        return self._tracker

    def _refresh(self):
        if not self._fast:
            self.trials.refresh()
            return
        tr = self._sync()
        if tr.invalidated or not hasattr(self.trials, "_trials"):
            self.trials.refresh()
            tr.invalidated = False
        else:
            self.trials._refresh_append()

    def _count(self, states):
        if self._fast:
            counts = self._sync().counts
            return sum(counts[s] for s in states)
        return self.trials.count_by_state_unsynced(list(states))

    def _best_loss(self):
        if self._fast:
            return self._sync().best_loss
        losses = []
        for loss in self.trials.losses():
            if loss is None:
                continue
            try:
                if np.isnan(loss):
                    continue
            except TypeError:
                continue
            losses.append(loss)
        return min(losses) if losses else None

    # ------------------------------------------------------- evaluation

    def serial_evaluate(self, N=-1):
        if self._fast:
            docs = self._sync().new_docs()
        else:
            docs = self.trials._dynamic_trials
        for trial in docs:
            if trial["state"] != JOB_STATE_NEW:
                continue
            # -- the observer (MLflow tracking) sees the trial's outcome
            with self.observer.trial(trial):
                trial["state"] = JOB_STATE_RUNNING
                now = base.coarse_utcnow()
                trial["book_time"] = now
                trial["refresh_time"] = now
                spec = base.spec_from_misc(trial["misc"])
                ctrl = base.Ctrl(self.trials, current_trial=trial)
                try:
                    result = self.domain.evaluate(spec, ctrl)
                except Exception as e:
                    logger.error("job exception: %s" % str(e))
                    trial["state"] = JOB_STATE_ERROR
                    trial["misc"]["error"] = (str(type(e)), str(e))
                    trial["refresh_time"] = base.coarse_utcnow()
                    if not self.catch_eval_exceptions:
                        # -- the ERROR trial leaves trials.trials
                        self.trials.refresh()
                        if self._tracker is not None:
                            self._tracker.sync()
                            self._tracker.invalidated = False
                        raise
                else:
                    trial["state"] = JOB_STATE_DONE
                    trial["result"] = result
                    trial["refresh_time"] = base.coarse_utcnow()
            N -= 1
            if N == 0:
                break
        self._refresh()

    @property
    def is_cancelled(self):
        """True when the trials object was cancelled (SparkTrials)."""
        return bool(getattr(self.trials, "_fmin_cancelled", False))

    def block_until_done(self):
        already_printed = False
        if self.asynchronous:
            unfinished_states = [JOB_STATE_NEW, JOB_STATE_RUNNING]

            def get_queue_len():
                return self.trials.count_by_state_unsynced(unfinished_states)

            qlen = get_queue_len()
            while qlen > 0:
                if not already_printed and self.verbose:
                    logger.info("Waiting for %d jobs to finish ..." % qlen)
                    already_printed = True
                time.sleep(self.poll_interval_secs)
                qlen = get_queue_len()
            self.trials.refresh()
        else:
            self.serial_evaluate()

    def run(self, N, block_until_done=True):
        """Queue up to N new trials (and evaluate them, or wait for
        workers when asynchronous)."""
        trials = self.trials
        algo = self.algo
        n_queued = 0

        def get_queue_len():
            return self._count((JOB_STATE_NEW,))

        def get_n_done():
            return self._count((JOB_STATE_DONE,))

        def get_n_unfinished():
            return self._count((JOB_STATE_NEW, JOB_STATE_RUNNING))

        stopped = False
        initial_n_done = get_n_done()
        with self.progress_callback(initial=initial_n_done,
                                    total=self.max_evals) as progress_ctx:
            all_trials_complete = False
            best_loss = float("inf")
            while (
                (n_queued < N or (block_until_done
                                  and not all_trials_complete))
                and (self.timeout is None
                     or (timer() - self.start_time) < self.timeout)
                and (self.loss_threshold is None
                     or best_loss >= self.loss_threshold)
            ):
                qlen = get_queue_len()
                while (qlen < self.max_queue_len and n_queued < N
                       and not self.is_cancelled):
                    n_to_enqueue = min(self.max_queue_len - qlen,
                                       N - n_queued)
                    new_ids = trials.new_trial_ids(n_to_enqueue)
                    self._refresh()
                    new_trials = algo(new_ids, self.domain, trials,
                                      self.rstate.integers(2 ** 31 - 1))
                    assert len(new_ids) >= len(new_trials)
                    if len(new_trials):
                        self.trials.insert_trial_docs(new_trials)
                        self._refresh()
                        n_queued += len(new_trials)
                        qlen = get_queue_len()
                    else:
                        stopped = True
                        break

                if self.is_cancelled:
                    break

                if self.asynchronous:
                    # -- wait for workers to fill in the trials
                    time.sleep(self.poll_interval_secs)
                else:
                    # -- loop over trials and do the jobs directly
                    self.serial_evaluate()

                self._refresh()
                if self.trials_save_file != "":
                    with open(self.trials_save_file, "wb") as f:
                        pickler.dump(self.trials, f)
                if self.early_stop_fn is not None:
                    stop, kwargs = self.early_stop_fn(
                        self.trials, *self.early_stop_args)
                    self.early_stop_args = kwargs
                    if stop:
                        logger.info(
                            "Early stop triggered. Stopping iterations as "
                            "condition is reach.")
                        stopped = True
                # -- best loss among trials that report one
                b = self._best_loss()
                if b is not None:
                    best_loss = b
                    progress_ctx.postfix = "best loss: " + str(best_loss)

                n_unfinished = get_n_unfinished()
                if n_unfinished == 0:
                    all_trials_complete = True

                n_done = get_n_done()
                n_done_this_iteration = n_done - initial_n_done
                if n_done_this_iteration > 0:
                    progress_ctx.update(n_done_this_iteration)
                initial_n_done = n_done

                if stopped:
                    break

        if block_until_done:
            self.block_until_done()
            self._refresh()
            logger.info("Queue empty, exiting run.")
        else:
            qlen = get_queue_len()
            if qlen:
                msg = "Exiting run, not waiting for %d jobs." % qlen
                logger.info(msg)

    def __iter__(self):
        return self

    def __next__(self):
        self.run(1, block_until_done=self.asynchronous)
        if self.early_stop_fn is not None:
            stop, kwargs = self.early_stop_fn(self.trials,
                                              *self.early_stop_args)
            self.early_stop_args = kwargs
            if stop:
                raise StopIteration()
        if len(self.trials) >= self.max_evals:
            raise StopIteration()
        return self.trials

    def exhaust(self):
        n_done = len(self.trials)
        self.run(self.max_evals - n_done, block_until_done=self.asynchronous)
        self.trials.refresh()
        return self


def _annotated_space(fn):
    annotations = dict(getattr(fn, "__annotations__", {}))
    annotations.pop("return", None)
    for _, annotation in annotations.items():
        if not isinstance(annotation, pyll.Apply):
            raise InvalidAnnotatedParameter(
                'When using `space="annotated"`, please annotate the '
                "objective function arguments with a `pyll.base.Apply` "
                "subclass. See example in `fmin` docstring")
    return annotations


def fmin(fn, space, algo=None, max_evals=None, timeout=None,
         loss_threshold=None, trials=None, rstate=None,
         allow_trials_fmin=True, pass_expr_memo_ctrl=None,
         catch_eval_exceptions=False, verbose=True, return_argmin=True,
         points_to_evaluate=None, max_queue_len=1, show_progressbar=True,
         early_stop_fn=None, trials_save_file="", mlflow_tracking=None):
    """Minimize a function over a hyperparameter space.

    Parameters are those of hyperopt.fmin: ``fn`` (objective: returns a
    number or a dict with 'status' and 'loss'), ``space`` (hp.* graph,
    dict/list/tuple of them, or "annotated"), ``algo`` (a suggest function;
    default tpe.suggest with a warning), ``max_evals`` (total number of
    trials wanted in ``trials``), ``timeout`` (seconds), ``loss_threshold``,
    ``trials``, ``rstate`` (numpy Generator or int; default from
    $HYPEROPT_FMIN_SEED or $PARZEN_FMIN_SEED), ``allow_trials_fmin``,
    ``pass_expr_memo_ctrl``, ``catch_eval_exceptions``, ``verbose``,
    ``return_argmin``, ``points_to_evaluate``, ``max_queue_len``,
    ``show_progressbar``, ``early_stop_fn``, ``trials_save_file`` (a
    pickle of the Trials, as hyperopt; a path ending in ``.db``,
    ``.sqlite`` or ``.sqlite3``, or an existing SQLite file, is a durable
    parzen store instead: see :class:`parzen.store.StoreTrials`).

    ``mlflow_tracking`` (parzen only): None logs every trial to MLflow
    when MLflow is imported and a run is active, True always, False never,
    a string is a tracking URI; $PARZEN_MLFLOW_TRACKING=0 turns it off
    (see :mod:`parzen.tracking` and docs/mlflow.md).

    Returns the best trial's ``{label: stored value}`` (return_argmin) or
    the best point (``space_eval`` of it).

    Example of an annotated space::

        def objective(x: hp.uniform('x', -10, 10), y: hp.uniform('y', -10, 10)):
            return x ** 2 + y ** 2

        fmin(objective, space="annotated", max_evals=100)
    """
    if algo is None:
        from . import tpe

        algo = tpe.suggest
        logger.warning("TPE is being used as the default algorithm.")

    if max_evals is None:
        max_evals = sys.maxsize

    if rstate is None:
        rstate = _as_generator(None)

    validate_timeout(timeout)
    validate_loss_threshold(loss_threshold)

    if isinstance(space, str) and space == "annotated":
        space = _annotated_space(fn)
        fn = __objective_fmin_wrapper(fn)

    if allow_trials_fmin and hasattr(trials, "fmin"):
        return trials.fmin(
            fn, space, algo=algo, max_evals=max_evals, timeout=timeout,
            loss_threshold=loss_threshold, max_queue_len=max_queue_len,
            rstate=rstate, pass_expr_memo_ctrl=pass_expr_memo_ctrl,
            verbose=verbose, catch_eval_exceptions=catch_eval_exceptions,
            return_argmin=return_argmin, show_progressbar=show_progressbar,
            early_stop_fn=early_stop_fn, trials_save_file=trials_save_file,
            **({} if mlflow_tracking is None
               else {"mlflow_tracking": mlflow_tracking}))

    store_points = own_store = None
    is_store = bool(trials_save_file) and _store.is_store_path(
        trials_save_file)
    if trials is None:
        if is_store:
            # -- the durable path: a parzen store, resumed when it exists
            trials = own_store = _store.StoreTrials(trials_save_file)
            store_points = points_to_evaluate
        elif trials_save_file and os.path.exists(trials_save_file):
            with open(trials_save_file, "rb") as f:
                trials = pickler.load(f)
        elif points_to_evaluate is None:
            trials = base.Trials()
        else:
            assert type(points_to_evaluate) == list  # noqa: E721
            trials = generate_trials_to_calculate(points_to_evaluate)
    if is_store:
        # -- never pickle over a store: it is written trial by trial
        if not (isinstance(trials, _store.StoreTrials)
                and _store.same_file(trials.path, trials_save_file)):
            raise ValueError(
                "trials_save_file=%r is a parzen store: leave trials=None "
                "(fmin opens it) or pass StoreTrials(%r)"
                % (trials_save_file, trials_save_file))
        trials_save_file = ""

    domain = base.Domain(fn, space, pass_expr_memo_ctrl=pass_expr_memo_ctrl)
    if isinstance(trials, _store.StoreTrials):
        # -- creates the study, or checks that its space is this one
        with _store.closing_on_error(own_store):
            trials.attach_domain(domain, points_to_evaluate=store_points)

    with _store.closing_on_error(own_store):
        observer = _tracking.observer(mlflow_tracking, trials)
    rval = FMinIter(algo, domain, trials, max_evals=max_evals,
                    timeout=timeout, loss_threshold=loss_threshold,
                    rstate=rstate, verbose=verbose,
                    max_queue_len=max_queue_len,
                    show_progressbar=show_progressbar,
                    early_stop_fn=early_stop_fn,
                    trials_save_file=trials_save_file, observer=observer)
    rval.catch_eval_exceptions = catch_eval_exceptions

    # -- this is where the search runs
    observer.on_run_start(trials, domain, algo, max_evals, 1)
    try:
        rval.exhaust()
    finally:
        observer.on_run_end(trials, space)
        if own_store is not None:
            own_store.close()  # outcomes written; a running trial -> CANCEL

    return fmin_result(trials, space, return_argmin)


def fmin_result(trials, space, return_argmin):
    """What fmin returns: the best trial's {label: stored value}, or with
    return_argmin=False the best point of the space (None without trials).
    Shared with the parallel Trials classes."""
    if return_argmin:
        if len(trials.trials) == 0:
            raise Exception(
                "There are no evaluation tasks, cannot return argmin of task "
                "losses.")
        return trials.argmin
    if len(trials) > 0:
        # -- the best point of the space, evaluated
        return space_eval(space, trials.argmin)
    return None


def space_eval(space, hp_assignment):
    """Compute a point in a search space from a hyperparameter assignment.

    ``hp_assignment`` maps labels to stored values (e.g. fmin's argmin);
    wrappers still apply (a choice index selects its option)."""
    space = pyll.as_apply(space)
    nodes = pyll.toposort(space)
    memo = {}
    for node in nodes:
        if node.name == "hyperopt_param":
            label = node.arg["label"].eval()
            if label in hp_assignment:
                memo[node] = hp_assignment[label]
    rval = pyll.rec_eval(space, memo=memo)
    return rval
