"""`coalmine demo-app`: what local-mode Deployments of the demo run."""

import signal
import urllib.request

from tests.fixtures.demo import demo_process

DEADLINE = 20.0


def test_serves_the_demo_until_sigterm() -> None:
    command = ("-c", "from coalmine.cli.main import run; run()", "demo-app", "--port", "0")
    with demo_process({"VERSION": "0.0.4", "PORT": "1"}, args=command) as (process, url):
        assert not url.endswith(":1")  # --port wins over $PORT
        with urllib.request.urlopen(f"{url}/demo/hello", timeout=DEADLINE) as response:
            assert response.read() == b"hello, world! version 0.0.4\n"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0
