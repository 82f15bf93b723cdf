"""Real Spark for the tests: a local[N] session, and a standalone cluster
(a master and a worker launched from the PySpark installation, bound to
127.0.0.1) whose executors are separate JVM processes."""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

pyspark = pytest.importorskip("pyspark")

# Executors must run the test interpreter, whichever `python3` is on PATH.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def ship_by_value(module_name):
    """Executors cannot import the test modules: send their functions by
    value, as they would be from a user's __main__ script."""
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[module_name])


def spark_home():
    return os.path.dirname(pyspark.__file__)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session(master, app):
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(master).appName(app)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .getOrCreate())
    spark.sparkContext.setLogLevel("OFF")
    return spark


class _Daemon:
    """A Spark daemon (master or worker) whose output we watch for a
    readiness line; bounded wait, no fixed sleeps."""

    def __init__(self, args, ready, log_path, timeout=120):
        env = dict(os.environ, SPARK_HOME=spark_home(),
                   SPARK_LOCAL_IP="127.0.0.1", SPARK_NO_DAEMONIZE="1")
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [os.path.join(spark_home(), "bin", "spark-class")] + args,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env, start_new_session=True)
        self.ready = threading.Event()
        threading.Thread(target=self._pump, args=(ready,), daemon=True).start()
        if not self.ready.wait(timeout):
            self.stop()
            raise RuntimeError("Spark daemon %s did not start; see %s"
                               % (args[0], log_path))

    def _pump(self, ready):
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            if ready in line:
                self.ready.set()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
        self.proc.wait()
        self.log.close()


class StandaloneCluster:
    """Master + one worker (2 cores) on 127.0.0.1."""

    def __init__(self, tmpdir):
        port = free_port()
        self.url = "spark://127.0.0.1:%d" % port
        self.master = _Daemon(
            ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(free_port())],
            "I have been elected leader", os.path.join(tmpdir, "master.log"))
        try:
            self.worker = _Daemon(
                ["org.apache.spark.deploy.worker.Worker", self.url, "--host",
                 "127.0.0.1", "--cores", "2", "--memory", "2g",
                 "--webui-port", str(free_port()), "--work-dir",
                 os.path.join(tmpdir, "work")],
                "Successfully registered with master",
                os.path.join(tmpdir, "worker.log"))
        except Exception:
            self.master.stop()
            raise

    def stop(self):
        self.worker.stop()
        self.master.stop()


def executor_pids():
    out = subprocess.run(["pgrep", "-f", "CoarseGrainedExecutorBackend"],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def wait_for(predicate, timeout=60.0):
    """Block until predicate() is true (checked on a short cadence), or
    fail the test: a bounded wait for a condition, not a timed guess."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in %gs" % timeout)
        time.sleep(0.05)
