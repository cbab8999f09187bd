"""`grantflow dev` (what `make dev` runs) gives a readable Web UI out of the box: it starts the codec server
with the key it generated and the dev server's UI with that codec endpoint, so a request's summary is plain
text in the UI (a real headless Chromium where Debian's `chromium` and `chromium-driver` are installed) and
in the `temporal` CLI given the endpoint.

One stack for the module: the whole `grantflow dev --no-slack` as a newcomer runs it (its own Temporal dev
server, demo PostgreSQL, worker and codec server on free loopback ports), no GRANTFLOW_ENCRYPTION_KEYS.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grantflow.payloads.codec import EncryptionCodec, parse_keys
from tests.conftest import EXAMPLE_CONFIG, free_port, free_port_pair, venv_binary

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SUMMARY_PREFIX = "alice@example.com → demo-postgres/orders (read) · ACTIVE until "


@dataclass
class DevStack:
    env: dict[str, str]
    address: str
    ui: str
    codec: str
    state: Path
    request_id: str = ""

    def grantflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [venv_binary("grantflow"), *args], env=self.env, capture_output=True, text=True, timeout=90
        )

    def temporal(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [venv_binary("temporal"), *args, "--address", self.address]
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, errors="replace", timeout=60)


@pytest.fixture(scope="module")
def dev_stack() -> Iterator[DevStack]:
    # Not under pytest's basetemp: pytest makes its root 0700 at every session start (several may run on one
    # machine), and the demo PostgreSQL, run as another user when we are root, must reach its data directory.
    tmp = Path(tempfile.mkdtemp(prefix="gf-devui-"))
    port, codec_port = free_port_pair(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANTFLOW_", "SLACK_", "DEMO_PG", "TEMPORAL_"))}
    env |= {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "GRANTFLOW_STATE_DIR": str(tmp / "state"),
        "GRANTFLOW_CODEC_PORT": str(codec_port),
        "GRANTFLOW_CONFIG": str(EXAMPLE_CONFIG),
        "DATABASE_URL": f"sqlite:///{tmp}/gf.db",
        "GRANTFLOW_LOG_LEVEL": "WARNING",
    }
    log = tmp / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [venv_binary("grantflow"), "dev", "--no-slack"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    stack = DevStack(
        env, f"127.0.0.1:{port}", f"http://localhost:{port + 1000}", f"http://127.0.0.1:{codec_port}", tmp / "state"
    )
    try:
        deadline = time.monotonic() + 180
        while "grantflow is running" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"grantflow dev did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        requested = stack.grantflow(
            "request", "--as", "alice@example.com", "--integration", "demo-postgres", "--resource-type",
            "database", "--resource", "orders", "--permission", "read", "--duration", "1h",
            "--justification", "debug an order", "--json",
        )  # fmt: skip
        dev_log = log.read_text(errors="replace")[-3000:]
        assert requested.returncode == 0, f"`grantflow request` failed: {requested.stderr}\n--- dev log ---\n{dev_log}"
        sub = json.loads(requested.stdout)
        stack.request_id = sub["request_id"]
        approved = stack.grantflow("approve", stack.request_id, "--as", "bob@example.com")
        assert approved.returncode == 0, approved.stderr
        deadline = time.monotonic() + 60
        while json.loads(stack.grantflow("status", stack.request_id, "--json").stdout)["status"] != "ACTIVE":
            assert time.monotonic() < deadline, "the request never became ACTIVE"
            time.sleep(0.5)
        yield stack
    finally:
        proc.send_signal(signal.SIGINT)  # as Ctrl-C: the launcher stops its children, newest first
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def test_dev_starts_the_codec_server_with_its_key_and_points_the_ui_at_it(dev_stack: DevStack) -> None:
    with urllib.request.urlopen(f"{dev_stack.ui}/api/v1/settings", timeout=10) as r:
        settings = json.load(r)
    assert settings["Codec"]["Endpoint"] == dev_stack.codec
    # The codec server decrypts with the key `grantflow dev` generated, and lets the UI's origin call it.
    codec = EncryptionCodec(parse_keys((dev_stack.state / "encryption.key").read_text().strip()))
    sealed = codec.encrypt(_payload(b'"hello"'))
    body = {"payloads": [{"metadata": {k: _b64(v) for k, v in sealed.metadata.items()}, "data": _b64(sealed.data)}]}
    post = urllib.request.Request(
        f"{dev_stack.codec}/decode",
        data=json.dumps(body).encode(),
        headers={"Origin": dev_stack.ui, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(post, timeout=10) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] == dev_stack.ui
        assert base64.b64decode(json.load(answer)["payloads"][0]["data"]) == b'"hello"'
    # The `temporal` CLI with the endpoint shows the summary in plain text; without it, it cannot.
    wid = f"access-request-{dev_stack.request_id}"
    decoded = dev_stack.temporal("workflow", "metadata", "-w", wid, "--codec-endpoint", dev_stack.codec)
    assert decoded.returncode == 0, decoded.stderr
    assert SUMMARY_PREFIX in decoded.stdout
    raw = dev_stack.temporal("workflow", "metadata", "-w", wid)
    assert SUMMARY_PREFIX not in raw.stdout + raw.stderr


def test_grantflow_codec_server_uses_the_dev_key(dev_stack: DevStack) -> None:
    """`grantflow codec-server` in another terminal, without GRANTFLOW_ENCRYPTION_KEYS, as every command."""
    port = free_port()
    proc = subprocess.Popen(
        [venv_binary("grantflow"), "codec-server", "--port", str(port)],
        env=dev_stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wid = f"access-request-{dev_stack.request_id}"
        deadline = time.monotonic() + 30
        while True:
            got = dev_stack.temporal("workflow", "metadata", "-w", wid, "--codec-endpoint", f"http://127.0.0.1:{port}")
            if SUMMARY_PREFIX in got.stdout:
                break
            assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()
            assert time.monotonic() < deadline, got.stderr
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_the_web_ui_shows_the_summary_in_plain_text(dev_stack: DevStack) -> None:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("no /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1600,1200",
    ):
        options.add_argument(arg)
    profile = dev_stack.state.parent / "chromium-profile"
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(f"{dev_stack.ui}/namespaces/default/workflows/access-request-{dev_stack.request_id}")
        seen = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            tabs = driver.find_elements(By.PARTIAL_LINK_TEXT, "User Metadata")
            if tabs:
                tabs[0].click()
                seen = _visible_text(driver, By)
                if SUMMARY_PREFIX in seen:
                    break
            time.sleep(1)
        else:
            driver.save_screenshot(str(dev_stack.state.parent / "ui.png"))
        assert SUMMARY_PREFIX in seen, f"not on the workflow page (screenshot: ui.png): {seen[-1500:]}"
        assert "alice@example.com → demo-postgres/orders (read) for 1h" in seen  # the static summary
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _visible_text(driver: Any, by: Any) -> str:
    """The page's text and that of its frames (the UI renders user metadata as markdown in iframes)."""
    texts = [driver.find_element(by.TAG_NAME, "body").text]
    for frame in driver.find_elements(by.TAG_NAME, "iframe"):
        try:
            driver.switch_to.frame(frame)
            texts.append(driver.find_element(by.TAG_NAME, "body").text)
        finally:
            driver.switch_to.default_content()
    return "\n".join(texts)


def _payload(data: bytes) -> Any:
    from temporalio.api.common.v1 import Payload

    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
