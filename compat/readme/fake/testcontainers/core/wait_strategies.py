"""The part of testcontainers.core.wait_strategies the README uses (see the package docstring)."""

import time
import urllib.error
import urllib.request


class HttpWaitStrategy:
    def __init__(self, port, path="/"):
        self.port = port
        self.path = path if path.startswith("/") else f"/{path}"
        self.status_codes = {200}

    def for_status_code(self, code):
        self.status_codes.add(code)
        return self

    def wait_until_ready(self, url_base, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url_base + self.path, timeout=2) as answer:
                    status = answer.status
            except urllib.error.HTTPError as e:
                status = e.code
            except OSError:
                status = None
            if status in self.status_codes:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url_base}{self.path} did not answer {sorted(self.status_codes)}")
            time.sleep(0.05)
