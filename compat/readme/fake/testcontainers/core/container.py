"""The part of testcontainers.core.container the README uses (see the package docstring)."""

import os
import subprocess
import threading


class DockerContainer:
    def __init__(self, image, **kwargs):
        self.image = image
        self.env = {}
        self.ports = []
        self.wait = None
        self.process = None
        self.port = None

    def with_exposed_ports(self, *ports):
        self.ports.extend(int(p) for p in ports)
        return self

    def with_env(self, key, value):
        self.env[key] = value
        return self

    def waiting_for(self, strategy):
        self.wait = strategy
        return self

    def start(self):
        # The image's environment, but on loopback: the container's 0.0.0.0 is not the host's.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMEMU_")}
        env.update(self.env, SMEMU_HOST="127.0.0.1", SMEMU_PORT="0", SMEMU_LOG_LEVEL="warn")
        self.process = subprocess.Popen(
            [os.environ["SMEMU_BIN"]], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.process.stdout.readline()))
        reader.start()
        reader.join(30)
        prefix = "smemu ready on http://"
        if not (line[0] or "").startswith(prefix):
            self.stop()
            raise RuntimeError(f"smemu did not start: {line[0]!r}")
        self.port = int(line[0][len(prefix):].strip().rsplit(":", 1)[1])
        if self.wait is not None:
            self.wait.wait_until_ready(f"http://127.0.0.1:{self.port}")
        return self

    def stop(self, force=True, delete_volume=True):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def get_container_host_ip(self):
        return "localhost"

    def get_exposed_port(self, port):
        if int(port) not in self.ports:
            raise ValueError(f"port {port} is not exposed")
        return self.port
