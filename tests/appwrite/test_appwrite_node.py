"""The seed's JavaScript snippets with the real `node-appwrite` (tests/appwrite/node/): the
script must exit 0 against the live server. It is never skipped under CI (`.ci/run` installs its
packages); locally it is skipped only when neither `node_modules` nor CI is there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.appwrite.live import PROJECT, Live

pytestmark = pytest.mark.xdist_group("appwrite")  # one worker: the live servers start once

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "seed_snippets.mjs"


def _node_ready() -> None:
    installed = (NODE_DIR / "node_modules" / "node-appwrite").is_dir()
    if installed and shutil.which("node"):
        return
    if os.environ.get("CI"):
        pytest.fail("node or tests/appwrite/node/node_modules is missing under CI")
    pytest.skip("run `npm ci --prefix tests/appwrite/node` to run the Node SDK test")


def test_the_seeds_javascript_runs_unchanged(live: Live) -> None:
    _node_ready()
    env = {
        **os.environ,
        "APPWRITE_ENDPOINT": live.endpoint,
        "APPWRITE_PROJECT": PROJECT,
        "APPWRITE_KEY": live.key,
        "ADMIN_USER_ID": live.staff()["id"],
    }
    done = subprocess.run(
        ["node", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all checks passed" in done.stdout
