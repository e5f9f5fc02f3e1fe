"""The README's commands and Python example work as written."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from search import build_index

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_example_runs(tmp_path, monkeypatch, capsys):
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    build_index(ROOT / "corpus", tmp_path / "index")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("1 articles, ")
    assert "<mark>coopération sécuritaire</mark>" in out


@pytest.mark.slow
def test_serve_command_on_a_fresh_copy(tmp_path):
    """Install into a new virtualenv from a copy of the project, then serve the corpus."""
    serve_command = next(
        line.strip() for line in README.splitlines() if line.strip().endswith("veille serve")
    )
    repo = tmp_path / "veille"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    # Reuse this machine's packages: the test is about the project's install, not PyPI.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "VEILLE_PORT": str(port),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("VEILLE_INDEX", None)
    server = subprocess.Popen(
        ["bash", "-c", serve_command],
        cwd=repo,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/?q=Maroc", timeout=5) as r:
                    page = r.read().decode()
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode(errors="replace")
                    pytest.fail(f"the README's serve command did not serve:\n{output[-3000:]}")
                time.sleep(0.5)
        assert "Maroc" in page and "<mark>" in page
        assert (repo / "index" / "CURRENT").is_file()  # it built the missing index
        assert (repo / "index" / "README.md").is_file()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        server.stdout.close()
