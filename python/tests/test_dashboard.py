"""A parzen run opens in optuna-dashboard, in a real browser: the run is
exported with to_optuna, optuna-dashboard serves it on 127.0.0.1, headless
Chromium (the Debian package) renders the study's pages; the study and
its N trials must be on them, and the screenshot must be a picture.
Bounded in time; the server is stopped whatever happens.

PZ_DASHBOARD_SHOT=FILE keeps the screenshot (docs/img is made so)."""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

import pytest

from parzen import STATUS_OK, StoreTrials, fmin, hp, tpe
from parzen.export import to_optuna

pytest.importorskip("optuna")  # scripts/setup-python.sh installs both
pytest.importorskip("optuna_dashboard")

N = 24
STUDY = "svc-search"
WINDOW = (1200, 800)  # the screenshot
TALL = (1200, 3000)  # the trial list is virtual: all N rows must fit
DEADLINE = 120.0  # seconds for the server to answer, and per browser run


def chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no chromium (scripts/deps.sh installs the Debian "
                    "package)")
    return exe


def objective(p):
    model = p["model"]
    if model["kind"] == "svm":
        loss = (model["C"] - 3) ** 2 / 10 + 0.1
    else:
        loss = abs(model["k"] - 7) / 5 + 0.2
    return {"loss": loss, "status": STATUS_OK,
            "intermediate_values": [loss * 2, loss * 1.5, loss]}


SPACE = {
    "lr": hp.loguniform("lr", -7, 0),
    "model": hp.choice("model", [
        {"kind": "svm", "C": hp.uniform("C", 0.1, 10)},
        {"kind": "knn", "k": hp.quniform("k", 1, 20, 1)},
    ]),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode("utf-8"))


def wait_for(server, base, log):
    """The dashboard's API answers, or the test fails (with its log)."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if server.poll() is not None:
            pytest.fail("optuna-dashboard exited %s:\n%s"
                        % (server.returncode, log.read_text()))
        try:
            return get_json(base + "/api/studies")
        except OSError:
            time.sleep(0.2)  # polling a deadline, not racing a result
    pytest.fail("optuna-dashboard did not answer in %.0f s:\n%s"
                % (DEADLINE, log.read_text()))


def browse(exe, profile, url, *args, window=WINDOW):
    """Chromium, headless, on url: its stdout (the DOM with --dump-dom)."""
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-dev-shm-usage", "--hide-scrollbars",
           "--user-data-dir=" + str(profile),
           "--window-size=%d,%d" % window,
           # -- run the page's scripts and API calls to completion
           "--virtual-time-budget=15000"] + list(args) + [url]
    r = subprocess.run(cmd, capture_output=True, timeout=DEADLINE)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")[-2000:]
    return r.stdout.decode("utf-8", "replace")


def page_text(dom):
    dom = re.sub(r"<(style|script|svg)\b.*?</\1>", " ", dom, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", dom).split())


def png_size_and_colors(path):
    """(width, height, distinct byte values of the pixels) of a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    w, h = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    return w, h, len(set(zlib.decompress(idat)))


def test_dashboard_shows_the_exported_run(tmp_path):
    exe = chromium()
    dash = os.path.join(os.path.dirname(sys.executable), "optuna-dashboard")
    assert os.access(dash, os.X_OK), dash
    path = str(tmp_path / "run.db")
    with StoreTrials(path, study=STUDY) as st:
        fmin(objective, SPACE, algo=tpe.suggest, max_evals=N, trials=st,
             rstate=__import__("numpy").random.default_rng(2),
             show_progressbar=False)
    storage = "sqlite:///" + str(tmp_path / "optuna.db")
    to_optuna(path, storage, source_study=STUDY)

    port = free_port()
    base = "http://127.0.0.1:%d" % port
    log = tmp_path / "dashboard.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [dash, storage, "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        studies = wait_for(server, base, log)["study_summaries"]
        assert [s["study_name"] for s in studies] == [STUDY]
        sid = studies[0]["study_id"]
        trials = get_json("%s/api/studies/%d" % (base, sid))["trials"]
        assert [t["number"] for t in trials] == list(range(N))
        assert {t["state"] for t in trials} == {"Complete"}

        profile = tmp_path / "chromium"
        text = page_text(browse(exe, profile, "%s/dashboard/studies/%d/trials"
                                % (base, sid), "--dump-dom", window=TALL))
        assert "%s (id=%d)" % (STUDY, sid) in text, text[:500]
        assert "%d Trials" % N in text, text[:500]
        for k in range(N):
            assert "Trial %d Complete" % k in text, k
        shot = tmp_path / "dashboard.png"
        browse(exe, profile, "%s/dashboard/studies/%d" % (base, sid),
               "--screenshot=" + str(shot))
        w, h, colors = png_size_and_colors(shot)
        assert (w, h) == WINDOW
        assert colors > 50, "a blank screenshot"  # text, plots, colours
        keep = os.environ.get("PZ_DASHBOARD_SHOT")
        if keep:
            shutil.copyfile(shot, keep)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
