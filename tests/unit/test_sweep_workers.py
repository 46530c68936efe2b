"""`python -m nnviz sweep` workers sharing one study: two processes on SQLite, one on a real
PostgreSQL server started here, and a worker killed mid-trial that loses no finished trial."""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

from nnviz.jobs import search

ROOT = Path(__file__).resolve().parents[2]
COMPLETE, RUNNING, FAIL = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING,
                           optuna.trial.TrialState.FAIL)
TINY = ["--dataset", "digits", "--epochs", "1", "--max-steps", "3", "--kfold", "2", "--sampler", "random",
        "--space", '{"lr": {"low": 0.0001, "high": 0.1, "log": true}, "hidden": ["16", "32"]}', "--no-pruning",
        "--json"]


def worker(url: str, study: str, trials: int, *extra: str, tmp: Path) -> subprocess.Popen:
    env = dict(os.environ, NNVIZ_SEARCH_HEARTBEAT_S="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "nnviz", "sweep", "--storage", url, "--study", study,
                             "--trials", str(trials), *TINY, *extra], cwd=tmp, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return lines[-1]  # the summary


def trials_of(url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=search.storage(url)).get_trials(deepcopy=False)


def test_two_workers_share_one_sqlite_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a = worker(url, "shared", 3, tmp=tmp_path)
    b = worker(url, "shared", 3, tmp=tmp_path)
    sa, sb = finish(a), finish(b)
    trials = trials_of(url, "shared")
    complete = [t for t in trials if t.state == COMPLETE]
    assert len(sa["worker_trials"]) == len(sb["worker_trials"]) == 3
    assert len(complete) == 6 and sorted(t.number for t in trials) == list(range(6))
    assert sorted(sa["worker_trials"] + sb["worker_trials"]) == list(range(6))
    workers = {t.user_attrs["worker"] for t in complete}
    assert len(workers) == 2  # both processes wrote into the one study
    assert all(len(t.user_attrs["split_test_scores"]) == 2 for t in complete)


def test_killing_a_worker_mid_trial_loses_no_finished_trial(tmp_path):
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    # longer trials, so the kill lands inside one
    a = worker(url, "kill", 200, "--max-steps", "15", "--epochs", "3", tmp=tmp_path)
    deadline, killed = time.time() + 240, False
    try:
        while time.time() < deadline and a.poll() is None:
            time.sleep(0.1)
            try:
                trials = trials_of(url, "kill")
            except (KeyError, optuna.exceptions.OptunaError, Exception):  # study not created yet
                continue
            if sum(t.state == COMPLETE for t in trials) >= 2 and trials[-1].state == RUNNING:
                os.kill(a.pid, signal.SIGKILL)
                killed = True
                break
    finally:
        if not killed:
            a.kill()
        a.wait(30)
    assert killed, "the worker never had two finished trials and one in flight"

    before = trials_of(url, "kill")
    finished = {t.number: (t.value, t.user_attrs["split_test_scores"]) for t in before if t.state == COMPLETE}
    in_flight = [t.number for t in before if t.state == RUNNING]
    assert len(finished) >= 2 and len(in_flight) == 1

    time.sleep(3.5)  # past the 3 s grace period of the dead worker's heartbeat
    summary = finish(worker(url, "kill", 2, tmp=tmp_path))
    after = {t.number: t for t in trials_of(url, "kill")}
    for number, (value, splits) in finished.items():  # every finished trial is still there, unchanged
        assert after[number].state == COMPLETE
        assert after[number].value == value and after[number].user_attrs["split_test_scores"] == splits
    assert after[in_flight[0]].state == FAIL  # the killed trial is marked failed, not left running
    killed = next(t for t in before if t.number == in_flight[0])
    if killed.params:  # killed after sampling: its parameters are tried again
        retried = [t for t in after.values() if t.system_attrs.get("failed_trial") == in_flight[0]]
        assert retried and retried[0].state == COMPLETE
    # (killed between Optuna creating the trial and its objective starting: nothing was sampled to retry)
    assert sum(t.state == COMPLETE for t in after.values()) == len(finished) + len(summary["worker_trials"])


# --- PostgreSQL -------------------------------------------------------------------------------------------

def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url():
    """A throw-away PostgreSQL server on a free localhost port (Debian's postgresql package).

    PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
    """
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs Debian's postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        as_user = [runuser, "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="nnviz-pg-"))
    data = base / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", opts, "-l", str(data / "server.log"), "-w",
                    "-t", "60", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_a_worker_writes_into_a_postgresql_study(tmp_path, postgres_url):
    a = worker(postgres_url, "pg", 2, tmp=tmp_path)
    b = worker(postgres_url, "pg", 2, tmp=tmp_path)
    sa, sb = finish(a), finish(b)
    trials = trials_of(postgres_url, "pg")
    assert sorted(sa["worker_trials"] + sb["worker_trials"]) == [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == COMPLETE and len(t.user_attrs["split_test_scores"]) == 2 for t in trials)
    assert sa["storage"].startswith("postgresql")
