"""``fmin``: minimize a function over a search space (hyperopt.fmin).

fmin picks a storage (the Trials, or the SQLite store of
``trials_save_file="*.db"``) and an executor (inline, or the one of a
ParallelTrials/SparkTrials) and runs the one trial loop of
:mod:`parzen._driver`: ask the algorithm, dispatch, record, apply the stop
rules, until ``max_evals`` trials count, the timeout or loss threshold is
reached, the algorithm returns no document or ``early_stop_fn`` says stop.
Its bookkeeping is incremental: each trial costs O(1) amortised (no scans
of the whole history), where hyperopt rescans all documents several times
per iteration.
"""

import functools
import logging
import os
import sys
import time
from dataclasses import dataclass, fields
from typing import Any

import cloudpickle
import numpy as np

from . import _driver, _pruning, base, progress, pyll
from . import pruners as _pruners
from . import store as _store
from . import tracking as _tracking
from .base import (
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
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


class FMinIter:
    """hyperopt's loop object, kept for code that builds one directly.

    ``run(N)`` evaluates N more trials and ``exhaust()`` runs until
    ``max_evals`` count, both through the one driver (parzen._driver). A
    Trials with ``asynchronous = True`` (external workers evaluate the
    NEW documents, as hyperopt's MongoTrials) gets the driver's
    ExternalExecutor: the driver inserts the documents and polls them
    until the workers have finished them.
    """

    catch_eval_exceptions = False
    pickle_protocol = -1

    def __init__(self, algo, domain, trials, rstate, asynchronous=None,
                 max_queue_len=1, poll_interval_secs=1.0,
                 max_evals=sys.maxsize, timeout=None, loss_threshold=None,
                 verbose=False, show_progressbar=True, early_stop_fn=None,
                 trials_save_file=""):
        self.algo = _driver.algo_function(algo)
        self.domain = domain
        self.trials = trials
        self.progress_callback = _progress_callback(show_progressbar,
                                                    verbose)
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
        self.start_time = time.monotonic()
        self.rstate = _as_generator(rstate)
        self.verbose = verbose

        if self.asynchronous:
            _attach_domain(trials, domain)

    def _executor(self):
        if self.asynchronous:
            return _driver.ExternalExecutor(self.max_queue_len,
                                            self.poll_interval_secs)
        return _driver.InlineExecutor(self.trials, self.domain,
                                      self.max_queue_len)

    def run(self, N, block_until_done=True):
        """Queue up to N new trials and evaluate them (or, asynchronous,
        wait for the workers to). The driver always waits for the trials
        it queued: ``block_until_done`` is accepted for compatibility."""
        trials = self.trials
        run = _driver.Run(
            trials, self.domain, self.algo, self._executor(),
            max_evals=self.max_evals, timeout=self.timeout,
            loss_threshold=self.loss_threshold, rstate=self.rstate,
            early_stop_fn=self.early_stop_fn,
            max_queue_len=self.max_queue_len,
            catch_eval_exceptions=self.catch_eval_exceptions,
            save=_pickle_saver(self.trials_save_file),
            start_time=self.start_time)
        run.prepare(budget=None if N == sys.maxsize else N)
        run.early_stop_state = self.early_stop_args
        with self.progress_callback(
                initial=_n_finished(trials),
                total=_total(self.max_evals)) as bar:
            run.progress = bar
            run.run()
        self.early_stop_args = run.early_stop_state

    def serial_evaluate(self, N=-1):
        """Evaluate the queued (NEW) documents in this thread."""
        trials = self.trials
        trials.sync()
        ex = _driver.InlineExecutor(trials, self.domain)
        run = _driver.Run(trials, self.domain, self.algo, ex,
                          max_evals=0, rstate=self.rstate,
                          catch_eval_exceptions=self.catch_eval_exceptions)
        for doc in trials.queued_docs():
            if N == 0:
                break
            run.launch(doc)
            run.record(run.events.get_nowait())
            run.after_outcomes(1)
            N -= 1

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
        self.run(sys.maxsize)
        self.trials.sync()
        return self


def _attach_domain(trials, domain):
    if "FMinIter_Domain" in trials.attachments:
        logger.warning("over-writing old domain trials attachment")
    msg = pickler.dumps(domain)
    pickler.loads(msg)  # -- sanity check for unpickling
    trials.attachments["FMinIter_Domain"] = msg


def _progress_callback(show_progressbar, verbose):
    if not show_progressbar or not verbose:
        return progress.no_progress_callback
    if show_progressbar is True:
        return progress.default_callback
    return show_progressbar


def _is_front(trials):
    """A parallel front door (ParallelTrials, SparkTrials, or a subclass):
    a Trials that provides an executor."""
    from .parallel import _DispatchedTrials

    return isinstance(trials, _DispatchedTrials)


def _total(max_evals):
    return None if _driver.unbounded(max_evals) else max_evals


def _n_finished(trials):
    """DONE and ERROR trials: where the progress bar starts."""
    c = getattr(trials, "_pz_counts", None)
    if c is not None and not _driver._needs_refresh(trials):
        return c[JOB_STATE_DONE] + c[JOB_STATE_ERROR]
    return trials.count_by_state_unsynced([JOB_STATE_DONE, JOB_STATE_ERROR])


def _pickle_saver(path):
    """hyperopt's checkpoint: the Trials pickled after every batch. A
    parallel front door (ParallelTrials, SparkTrials) is saved as a plain
    Trials of its documents (its executor does not pickle)."""
    if not path:
        return None

    def save(trials):
        if not _is_front(trials):
            obj = trials
        else:
            obj = base.trials_from_docs(
                [dict(d) for d in trials._dynamic_trials], validate=False,
                exp_key=trials._exp_key)
        with open(path, "wb") as f:
            pickler.dump(obj, f)

    return save


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


@dataclass
class FminArgs:
    """fmin's arguments after ``fn``, ``space`` and ``trials``, collected
    once and passed on as one object: to a parallel front door
    (``_DispatchedTrials._fmin``) and to ``_run``. ``of(locals())`` picks
    them out of a caller's locals (a public ``fmin`` signature)."""

    algo: Any = None
    max_evals: Any = None
    timeout: Any = None
    loss_threshold: Any = None
    rstate: Any = None
    pass_expr_memo_ctrl: Any = None
    catch_eval_exceptions: bool = False
    verbose: Any = True
    return_argmin: bool = True
    points_to_evaluate: Any = None
    max_queue_len: int = 1
    show_progressbar: Any = True
    early_stop_fn: Any = None
    trials_save_file: str = ""
    mlflow_tracking: Any = None
    pruner: Any = None

    @classmethod
    def of(cls, names):
        """The fields found in ``names`` (a dict such as ``locals()``)."""
        return cls(**{f.name: names[f.name] for f in fields(cls)
                      if f.name in names})

    def hyperopt_kwargs(self):
        """The keywords hyperopt passes to a Trials' own ``fmin``
        (``points_to_evaluate`` is not one of them; ``mlflow_tracking``
        only when given)."""
        kw = {f.name: getattr(self, f.name) for f in fields(self)
              if f.name not in ("points_to_evaluate", "mlflow_tracking",
                                "pruner")}
        if self.mlflow_tracking is not None:
            kw["mlflow_tracking"] = self.mlflow_tracking
        return kw


def fmin(fn, space, algo=None, max_evals=None, timeout=None,
         loss_threshold=None, trials=None, rstate=None,
         allow_trials_fmin=True, pass_expr_memo_ctrl=None,
         catch_eval_exceptions=False, verbose=True, return_argmin=True,
         points_to_evaluate=None, max_queue_len=1, show_progressbar=True,
         early_stop_fn=None, trials_save_file="", mlflow_tracking=None,
         pruner=None):
    """Minimize a function over a hyperparameter space.

    Parameters are those of hyperopt.fmin: ``fn`` (objective: returns a
    number or a dict with 'status' and 'loss'), ``space`` (hp.* graph,
    dict/list/tuple of them, or "annotated"), ``algo`` (a suggest function
    or a module with one, e.g. ``tpe``; default tpe.suggest with a
    warning), ``max_evals`` (total number of trials wanted in ``trials``),
    ``timeout`` (seconds), ``loss_threshold``, ``trials``, ``rstate``
    (numpy Generator or int; default from $HYPEROPT_FMIN_SEED or
    $PARZEN_FMIN_SEED), ``allow_trials_fmin``, ``pass_expr_memo_ctrl``,
    ``catch_eval_exceptions``, ``verbose``, ``return_argmin``,
    ``points_to_evaluate`` (evaluated first when ``trials`` holds no trial
    yet, with any Trials), ``max_queue_len`` (points asked from the
    algorithm at once), ``show_progressbar``, ``early_stop_fn``,
    ``trials_save_file`` (a pickle of the Trials, as hyperopt; a path
    ending in ``.db``, ``.sqlite`` or ``.sqlite3``, or an existing SQLite
    file, is a durable parzen store instead: see
    :class:`parzen.store.StoreTrials`; with ParallelTrials or SparkTrials
    too).

    ``mlflow_tracking`` (parzen only): None logs every trial to MLflow
    when MLflow is imported and a run is active, True always, False never,
    a string is a tracking URI; $PARZEN_MLFLOW_TRACKING=0 turns it off
    (see :mod:`parzen.tracking` and docs/mlflow.md).

    ``pruner`` (parzen only): a :mod:`parzen.pruners` rule; the objective
    then calls :func:`parzen.report` with intermediate values and stops
    when it returns True (docs/pruning.md).

    Every combination of a storage (Trials, the store) and an executor
    (inline, ParallelTrials' processes, SparkTrials' tasks) runs the same
    loop, parzen._driver (docs/architecture.md).

    Returns the best trial's ``{label: stored value}`` (return_argmin) or
    the best point (``space_eval`` of it).

    Example of an annotated space::

        def objective(x: hp.uniform('x', -10, 10), y: hp.uniform('y', -10, 10)):
            return x ** 2 + y ** 2

        fmin(objective, space="annotated", max_evals=100)
    """
    args = FminArgs.of(locals())
    if allow_trials_fmin and hasattr(trials, "fmin") and \
            not getattr(type(trials).fmin, "_pz_driver", False):
        # -- a Trials with an fmin of its own (hyperopt's protocol)
        if pruner is not None:
            raise ValueError(
                "fmin(pruner=...): %s runs fmin itself and cannot stream "
                "parzen.report() values to parzen's driver"
                % type(trials).__name__)
        return trials.fmin(fn, space, **args.hyperopt_kwargs())
    if _is_front(trials):
        return trials._fmin(fn, space, args)
    return _run(fn, space, args, trials=trials)


def default_algo(algo):
    """fmin's algo argument as a suggest function (a module -> its
    suggest; None -> tpe.suggest, with hyperopt's warning)."""
    if algo is None:
        from . import tpe

        logger.warning("TPE is being used as the default algorithm.")
        return tpe.suggest
    return _driver.algo_function(algo)


def _run(fn, space, args=None, *, trials=None, front=None, storage=None,
         **kw):
    """fmin for every storage x executor, with ``args`` (FminArgs, or its
    fields as keywords). ``front``: a parallel Trials (ParallelTrials,
    SparkTrials) that provides the executor, the Domain and the counters;
    ``storage``: a StoreTrials to run on (spark_run)."""
    if args is None:
        args = FminArgs(**kw)
    elif kw:
        raise TypeError("_run: FminArgs and keyword fields at once")
    algo = default_algo(args.algo)
    pruner = _pruners.as_pruner(args.pruner)
    max_evals = sys.maxsize if args.max_evals is None else args.max_evals
    timeout, loss_threshold = args.timeout, args.loss_threshold
    rstate = _as_generator(args.rstate)
    trials_save_file = args.trials_save_file
    max_queue_len = args.max_queue_len
    validate_timeout(timeout)
    validate_loss_threshold(loss_threshold)
    if isinstance(space, str) and space == "annotated":
        space = _annotated_space(fn)
        fn = __objective_fmin_wrapper(fn)

    is_store = bool(trials_save_file) and _store.is_store_path(
        trials_save_file)
    own_store = None
    if storage is not None:
        trials = storage
    elif front is not None:
        if is_store:
            front.check_store(trials_save_file)
            trials = own_store = _store.StoreTrials(trials_save_file)
        else:
            if trials_save_file and os.path.exists(trials_save_file) and \
                    not front._dynamic_trials:
                with open(trials_save_file, "rb") as f:
                    front.adopt(pickler.load(f))
            trials = front
    elif trials is None:
        if is_store:
            # -- the durable path: a parzen store, resumed when it exists
            trials = own_store = _store.StoreTrials(trials_save_file)
        elif trials_save_file and os.path.exists(trials_save_file):
            with open(trials_save_file, "rb") as f:
                trials = pickler.load(f)
        else:
            trials = base.Trials()
    elif is_store and not (isinstance(trials, _store.StoreTrials)
                           and _store.same_file(trials.path,
                                                trials_save_file)):
        raise ValueError(
            "trials_save_file=%r is a parzen store: leave trials=None "
            "(fmin opens it) or pass StoreTrials(%r)"
            % (trials_save_file, trials_save_file))
    if is_store:
        trials_save_file = ""  # never pickle over a store

    with _store.closing_on_error(own_store):
        if front is not None:
            domain = front.make_domain(fn, space)
        else:
            domain = base.Domain(fn, space,
                                 pass_expr_memo_ctrl=args.pass_expr_memo_ctrl)
        _queue_points(trials, domain, args.points_to_evaluate)
        # -- MLflow tracking (parzen.tracking): an observer, or None
        tracker = _tracking.observer(args.mlflow_tracking, trials)
        pruning = None
        if front is not None:
            executor = front.make_backend()
            if pruner is not None:  # the report channel, before any trial
                pruning = _pruning.Pruning(pruner, executor,
                                           **front.report_address(executor))
                fn = pruning.wrap(fn, getattr(front, "reporting_objective",
                                              None))
            if tracker is not None:  # workers see their trial's run id
                executor = tracker.wrap_backend(executor)
            try:
                executor.start(fn)  # an unpicklable fn fails before a trial
            except BaseException:
                if pruning is not None:
                    pruning.close()
                raise
        elif getattr(trials, "asynchronous", False):
            # -- hyperopt's asynchronous Trials: external workers read the
            # Domain from the attachments and evaluate the NEW documents
            executor = _driver.ExternalExecutor(max_queue_len, 1.0)
            if pruner is not None:
                pruning = _pruning.Pruning(pruner, executor)  # raises
            _attach_domain(trials, domain)
        else:
            executor = _driver.InlineExecutor(trials, domain, max_queue_len)
            if pruner is not None:
                pruning = _pruning.Pruning(pruner, executor)
    try:
        run = _driver.Run(
            trials, domain, algo, executor, max_evals=max_evals,
            timeout=timeout, loss_threshold=loss_threshold, rstate=rstate,
            early_stop_fn=args.early_stop_fn, max_queue_len=max_queue_len,
            catch_eval_exceptions=args.catch_eval_exceptions,
            save=_pickle_saver(trials_save_file),
            observers=[front, tracker], log=getattr(front, "_log", None),
            pruning=pruning)
        run.prepare()
        with _progress_callback(args.show_progressbar, args.verbose)(
                initial=_n_finished(trials), total=_total(max_evals)) as bar:
            run.progress = bar
            run.run()
    finally:
        if own_store is not None:
            own_store.close()  # outcomes written; a running trial -> CANCEL
    return fmin_result(front if front is not None else trials, space,
                       args.return_argmin)


def _queue_points(trials, domain, points):
    """points_to_evaluate: queued as NEW trials when ``trials`` holds no
    trial yet (a StoreTrials also binds its study to the space here)."""
    if isinstance(trials, _store.StoreTrials):
        # -- creates the study, or checks that its space is this one
        trials.attach_domain(domain, points_to_evaluate=points)
        return
    if not points:
        return
    assert type(points) == list  # noqa: E721
    if trials._dynamic_trials:
        logger.warning(
            "points_to_evaluate ignored: the trials already hold %d trials "
            "(points are queued by the first run only)",
            len(trials._dynamic_trials))
        return
    docs = generate_trials_to_calculate(points)._dynamic_trials
    for doc in docs:
        doc["exp_key"] = trials._exp_key
    # -- not synced: as in hyperopt, they are evaluated in addition to
    # max_evals (hyperopt-spec 2.4)
    trials.insert_trial_docs(docs)


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
