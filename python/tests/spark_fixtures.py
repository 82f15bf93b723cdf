"""Real Spark for the tests: a local[N] session, a local Spark Connect
session (remote("local[N]")), a standalone cluster (a master and a worker
launched from the PySpark installation, bound to 127.0.0.1) whose
executors are separate JVM processes, and Spark Connect servers started
from the PySpark installation (spark-submit of SparkConnectServer, whose
jar ships in PySpark's jars/) against a master of our choosing."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import warnings

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


def connect_session(master="local[2]"):
    """remote(master): PySpark starts a Spark Connect server in this
    process's JVM. SPARK_TESTING makes it take an ephemeral port (PySpark's
    own test mode), so concurrent test runs on one machine do not collide
    on 15002."""
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.remote(master)
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1"))
    os.environ["SPARK_TESTING"] = "1"
    try:
        with warnings.catch_warnings():
            # the client also tries the server's static confs as runtime
            # confs, and warns that it cannot
            warnings.simplefilter("ignore", UserWarning)
            spark = builder.getOrCreate()
    finally:
        del os.environ["SPARK_TESTING"]
    from pyspark.sql.session import SparkSession as Classic

    server = Classic._instantiatedSession  # the server's own session
    if server is not None:
        server.sparkContext.setLogLevel("OFF")
    return spark


class _Daemon:
    """A Spark daemon (master, worker, Connect server) whose output we
    watch for a readiness line; bounded wait, no fixed sleeps. `args`
    start with the bin/ script to run."""

    def __init__(self, args, ready, log_path, timeout=180, env=None):
        env = dict(os.environ, SPARK_HOME=spark_home(),
                   SPARK_LOCAL_IP="127.0.0.1", SPARK_NO_DAEMONIZE="1",
                   **(env or {}))
        # a local Connect session of this process (remote("local")) set
        # these; its token (SPARK_CONNECT_AUTHENTICATE_TOKEN) stays: the
        # client sends it to every server, so a server started here must
        # expect it
        for var in ("SPARK_REMOTE", "SPARK_LOCAL_REMOTE",
                    "SPARK_CONNECT_MODE_ENABLED"):
            env.pop(var, None)
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [os.path.join(spark_home(), "bin", args[0])] + args[1:],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env, start_new_session=True)
        self.ready = threading.Event()
        self.ready_line = None
        threading.Thread(target=self._pump, args=(ready,), daemon=True).start()
        if not self.ready.wait(timeout):
            self.stop()
            raise RuntimeError("Spark daemon %s did not start; see %s"
                               % (args[1], log_path))

    def _pump(self, ready):
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            if ready in line and not self.ready.is_set():
                self.ready_line = line
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
            ["spark-class", "org.apache.spark.deploy.master.Master",
             "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(free_port())],
            "I have been elected leader", os.path.join(tmpdir, "master.log"))
        try:
            self.worker = _Daemon(
                ["spark-class", "org.apache.spark.deploy.worker.Worker",
                 self.url, "--host",
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


class ConnectServer:
    """A Spark Connect server process on 127.0.0.1 (an ephemeral port)
    whose Spark application runs on `master`; `python` is the Python its
    executors run UDFs with."""

    def __init__(self, master, tmpdir, python=sys.executable, cores=None):
        args = ["spark-submit", "--class",
                "org.apache.spark.sql.connect.service.SparkConnectServer",
                "--name", "parzen-connect-tests", "--master", master,
                "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
                "--conf", "spark.connect.grpc.binding.port=0",
                "--conf", "spark.ui.enabled=false",
                "--conf", "spark.driver.host=127.0.0.1",
                "--conf", "spark.driver.bindAddress=127.0.0.1",
                "--conf", "spark.pyspark.python=%s" % python]
        if cores is not None:
            args += ["--conf", "spark.cores.max=%d" % cores]
        # Connect's Python UDFs run the server's PYSPARK_PYTHON
        self.daemon = _Daemon(args, "Spark Connect server started at",
                              os.path.join(tmpdir, "connect-server.log"),
                              env={"PYSPARK_PYTHON": python})
        port = re.search(r"started at: \S+:(\d+)", self.daemon.ready_line)
        # "localhost": the client uses TLS for any other host once it has
        # a token (above), and the server speaks plain gRPC
        self.url = "sc://localhost:%s" % port.group(1)

    def session(self):
        """A new Connect session on this server (a classic session may be
        active in this process too)."""
        from pyspark.sql.connect.session import SparkSession as Remote

        return Remote.builder.remote(self.url).create()

    @staticmethod
    def close_session(spark):
        """Close a session of session(): its channel only. (stop() would
        also stop this process's local Connect server, if any: PySpark's
        stop() does that whenever remote("local") was used.) create() made
        it the process's default and active Connect session: left there,
        a later remote("local[2]").getOrCreate() gets it back, closed."""
        from pyspark.sql.connect.session import SparkSession as Remote

        spark.client.close()
        with Remote._lock:
            if Remote._default_session is spark:
                Remote._default_session = None
        if getattr(Remote._active_session, "session", None) is spark:
            Remote._active_session.session = None

    def stop(self):
        self.daemon.stop()


def executor_pids(cluster):
    """The executor JVMs of `cluster`'s worker (its children): never an
    executor of another Spark on the machine."""
    out = subprocess.run(["pgrep", "-P", str(cluster.worker.proc.pid), "-f",
                          "CoarseGrainedExecutorBackend"],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(predicate, timeout=60.0):
    """Block until predicate() is true (checked on a short cadence), or
    fail the test: a bounded wait for a condition, not a timed guess."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in %gs" % timeout)
        time.sleep(0.05)
