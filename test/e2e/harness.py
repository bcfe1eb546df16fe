"""Shared helpers for Waggle's end-to-end tests (Debian python3 standard library only).

The e2e tests drive a real `waggle serve` with real clients (the AWS CLI, instrumented apps).
This module owns the processes and the plumbing:

  free_port()            a loopback port that is free for both TCP and UDP
  Waggle                 the `waggle serve` process: start, wait_ready, kill9, terminate, restart
  read_metrics()         GET /metrics as {series: value}
  AwsCli                 runs /usr/bin/aws against an endpoint, isolated from the user's config
  PythonApp              an app run with /usr/bin/python3, waited for until its port accepts
  run_node(), NodeApp    the Node.js clients in test/e2e/node (scripts/install-deps installs them)
  UdpTee                 a UDP forwarder that records every datagram it passes on
  wait_until()           polling with a timeout (tests never sleep for a fixed time)
  X-Ray helpers          datagram encoding, captured-datagram files, BatchGetTraces in chunks

Always use the Debian binaries by full path: on the development machines a pyenv `python3` and
`aws` come first on PATH, and they lack the packages the tests rely on.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
SYSTEM_AWS = "/usr/bin/aws"
LOOPBACK = "127.0.0.1"

# <repo>/test/e2e/harness.py -> <repo>; captures from the real clients are in test/testdata.
REPO_DIR = Path(__file__).resolve().parents[2]
TESTDATA_DIR = REPO_DIR / "test" / "testdata"

# Environment variables that must not leak from the developer's shell into the clients
# (OTEL_* would reconfigure the OpenTelemetry SDKs' exporters behind the tests' backs).
_SCRUBBED_ENV_PREFIXES = ("AWS_", "OTEL_")
_SCRUBBED_ENV_NAMES = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYENV_VERSION"}


# --------------------------------------------------------------------------------------------
# Ports, polling, processes


class TempDirTestCase(unittest.TestCase):
    """A fresh temp dir per test class (cls.workdir), removed afterwards unless
    WAGGLE_E2E_KEEP=1. Subclasses calling setUpClass must call super().setUpClass() first."""

    maxDiff = None
    workdir_prefix = "waggle-e2e-"

    @classmethod
    def setUpClass(cls):
        cls.workdir = Path(tempfile.mkdtemp(prefix=cls.workdir_prefix))
        cls.addClassCleanup(cls._remove_workdir)

    @classmethod
    def _remove_workdir(cls):
        if os.environ.get("WAGGLE_E2E_KEEP") == "1":
            print("\nkept %s" % cls.workdir, file=sys.stderr)
        else:
            shutil.rmtree(cls.workdir, ignore_errors=True)


class ServerTestCase(TempDirTestCase):
    """A TempDirTestCase with one `waggle serve` for the class (cls.waggle), stopped after it,
    and the AWS CLI pointed at its X-Ray API (cls.aws). The binary is the test module's
    WAGGLE_BIN (set by main()); subclasses may set `waggle_args` and `otlp` (see Waggle)."""

    waggle_args = ()
    otlp = None

    @classmethod
    def binary(cls):
        binary = getattr(sys.modules[cls.__module__], "WAGGLE_BIN", None)
        if binary is None:
            raise AssertionError("waggle binary not given: pass --waggle PATH or set WAGGLE_BIN")
        return binary

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.waggle = Waggle(cls.binary(), cls.workdir, extra_args=cls.waggle_args, otlp=cls.otlp)
        cls.addClassCleanup(cls.waggle.stop)
        cls.waggle.start().wait_ready()
        cls.aws = AwsCli(cls.waggle.xray_endpoint, cls.workdir)


class StopWaiting(Exception):
    """Raised by a wait_until() probe when waiting longer cannot help."""


class ProcessExited(StopWaiting):
    """A child process ended while the harness was waiting for it to become ready."""


_handed_out = set()  # ports free_port() returned in this process


def free_port(host=LOOPBACK, attempts=50):
    """Returns a port on `host` that is currently free for both TCP and UDP.

    The kernel picks a free TCP port; it is kept only if UDP can bind the same number too, and
    only if this process was not handed it before: the kernel may pick a port again once its
    probe socket is closed, and two ports taken before a server binds them (its OTLP/HTTP and
    OTLP/gRPC ones) then came out the same. As with any "find a free port" helper, another
    process may take it before the caller does.
    """
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no port free for both TCP and UDP on %s after %d attempts"
                       % (host, attempts))


def wait_until(probe, timeout, interval=0.25):
    """Calls `probe()` -> (done, value) until `done` or until `timeout` seconds have passed.

    Returns (done, value) of the last call. An exception raised by `probe` counts as "not
    done yet"; if the time runs out with the last call raising, that exception propagates, so a
    persistent error is not hidden. A StopWaiting exception ends the wait at once. The caller
    decides what a timeout means: usually it asserts on the last value, so that the failure
    says what was missing rather than just "timed out".
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, value = probe()
            if done:
                return True, value
            error = None
        except StopWaiting:
            raise
        except Exception as e:  # noqa: BLE001 -- retried, re-raised below
            error = e
        if time.monotonic() >= deadline:
            if error is not None:
                raise error
            return False, value
        time.sleep(interval)


def tail(path, lines=60):
    """The last `lines` lines of a text file (for failure messages); '' if it does not exist."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def client_env(extra=None):
    """os.environ without AWS_* and Python-path variables, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUBBED_ENV_PREFIXES) and k not in _SCRUBBED_ENV_NAMES
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def wait_for_tcp_port(host, port, timeout=30.0, process=None, log_path=None):
    """Waits until `host:port` accepts TCP connections; fails early if `process` exits."""

    def probe():
        if process is not None and process.poll() is not None:
            raise ProcessExited(
                "process %s exited with code %s before %s:%d accepted connections\n%s"
                % (process.args, process.returncode, host, port, tail(log_path) if log_path else "")
            )
        with socket.create_connection((host, port), timeout=1.0):
            return True, None

    try:
        ok, _ = wait_until(probe, timeout, interval=0.1)
    except OSError:  # the last connect attempt failed
        ok = False
    if not ok:
        raise TimeoutError(
            "%s:%d did not accept connections within %.0f s\n%s"
            % (host, port, timeout, tail(log_path) if log_path else "")
        )


def http_get(url, headers=None, timeout=30.0):
    """GET `url`; returns (status, headers, body bytes) for every status, 5xx included."""
    return http_request("GET", url, headers=headers, timeout=timeout)


def http_request(method, url, body=None, headers=None, timeout=30.0):
    """One HTTP request; returns (status, headers, body bytes) for every status, 5xx included."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _stop_process(process, grace=10.0):
    """SIGTERM, then SIGKILL after `grace` seconds; no-op if already ended. Returns the code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


# --------------------------------------------------------------------------------------------
# waggle serve


def waggle_binary(argv):
    """Finds the waggle binary: `--waggle PATH` in `argv` (removed from it), else $WAGGLE_BIN.

    `argv` is modified in place so that the rest can go to unittest.main().
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--waggle")
    known, rest = parser.parse_known_args(argv[1:])
    argv[1:] = rest
    path = known.waggle or os.environ.get("WAGGLE_BIN")
    if not path:
        raise SystemExit("waggle binary not given: pass --waggle PATH or set WAGGLE_BIN")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise SystemExit("waggle binary %s does not exist or is not executable" % path)
    return path


def main(module):
    """Runs a test file's tests: `--waggle PATH` (or $WAGGLE_BIN) becomes module.WAGGLE_BIN,
    the other arguments go to unittest."""
    module.WAGGLE_BIN = waggle_binary(sys.argv)
    unittest.main(module=module)


_OTLP_SUPPORT = {}  # binary path -> whether its `serve --help` lists --otlp-http


def waggle_supports_otlp(binary):
    """Whether `binary serve` has the OTLP listeners (--otlp-http, --otlp-grpc); cached."""
    if binary not in _OTLP_SUPPORT:
        result = subprocess.run([binary, "serve", "--help"], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=30, env=client_env())
        _OTLP_SUPPORT[binary] = "--otlp-http" in result.stdout + result.stderr
    return _OTLP_SUPPORT[binary]


class Waggle:
    """One `waggle serve` process on loopback with its own data dir and log file.

    The X-Ray UDP and TCP listeners share one port number (like the X-Ray daemon); the HTTP
    listener (health, UI, query API) has another, and so do OTLP/HTTP (with the Honeycomb Events
    API) and OTLP/gRPC. Ports and data dir survive restart().

    `otlp`: pass --otlp-http / --otlp-grpc on free ports. None (the default) means "when the
    binary has them": their defaults are the fixed ports 4318 / 4317, which servers of tests
    running side by side must not all try to bind.
    Not thread-safe: drive it from the test's thread.
    """

    def __init__(self, binary, workdir, extra_args=(), ready_timeout=30.0, otlp=None):
        self.binary = binary
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "waggle.log"
        self.xray_port = free_port()
        self.http_port = free_port()
        self.otlp = waggle_supports_otlp(binary) if otlp is None else otlp
        self.otlp_http_port = free_port() if self.otlp else None
        self.otlp_grpc_port = free_port() if self.otlp else None
        self.extra_args = list(extra_args)
        self.ready_timeout = ready_timeout
        self.process = None
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def xray_udp_address(self):
        return (LOOPBACK, self.xray_port)

    @property
    def xray_endpoint(self):
        """The X-Ray API endpoint URL (what `--endpoint-url` gets)."""
        return "http://%s:%d" % (LOOPBACK, self.xray_port)

    @property
    def http_url(self):
        return "http://%s:%d" % (LOOPBACK, self.http_port)

    @property
    def otlp_http_url(self):
        """The OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT; also libhoney's apiHost)."""
        return "http://%s:%d" % (LOOPBACK, self.otlp_http_port)

    @property
    def otlp_grpc_url(self):
        """The OTLP/gRPC endpoint as the exporters take it (http:// = plaintext)."""
        return "http://%s:%d" % (LOOPBACK, self.otlp_grpc_port)

    def command(self):
        command = [
            self.binary, "serve",
            "--data-dir", str(self.data_dir),
            "--xray-udp", "%s:%d" % (LOOPBACK, self.xray_port),
            "--xray-tcp", "%s:%d" % (LOOPBACK, self.xray_port),
            "--http", "%s:%d" % (LOOPBACK, self.http_port),
        ]
        if self.otlp:
            command += ["--otlp-http", "%s:%d" % (LOOPBACK, self.otlp_http_port),
                        "--otlp-grpc", "%s:%d" % (LOOPBACK, self.otlp_grpc_port)]
        return command + self.extra_args

    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self):
        if self.running():
            raise RuntimeError("waggle is already running (pid %d)" % self.process.pid)
        # Append, so the log of a restarted server follows the one before it.
        with open(self.log_path, "ab") as log:
            log.write(("\n==== %s\n" % " ".join(self.command())).encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=client_env(), cwd=self.workdir,
            )
        return self

    def wait_ready(self, timeout=None):
        """Polls GET /healthz until it answers 200; raises with the log's tail otherwise."""
        timeout = self.ready_timeout if timeout is None else timeout
        url = self.http_url + "/healthz"
        last = "no answer"

        def probe():
            nonlocal last
            if self.process.poll() is not None:
                raise ProcessExited(
                    "waggle exited with code %s before it was ready\n%s"
                    % (self.process.returncode, self.log_tail())
                )
            try:
                status, _, body = http_get(url, timeout=2.0)
            except OSError as error:
                last = repr(error)
                return False, None
            last = "HTTP %d %r" % (status, body[:200])
            return status == 200, None

        started = time.monotonic()
        ok, _ = wait_until(probe, timeout, interval=0.1)
        if not ok:
            raise TimeoutError(
                "waggle not ready after %.0f s (GET %s: %s)\n%s"
                % (timeout, url, last, self.log_tail())
            )
        if self.otlp:  # healthy should imply listening; this says which listener is not
            left = max(1.0, timeout - (time.monotonic() - started))
            for port in (self.otlp_http_port, self.otlp_grpc_port):
                wait_for_tcp_port(LOOPBACK, port, left, process=self.process,
                                  log_path=self.log_path)
        return self

    def kill9(self):
        """SIGKILL: no shutdown code runs, unsynced data may be lost (that is the point)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout=30.0):
        """SIGTERM and wait; raises AssertionError unless waggle exits with code 0 in time."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                "waggle did not exit within %.0f s of SIGTERM\n%s" % (timeout, self.log_tail())
            )
        if code != 0:
            raise AssertionError(
                "waggle exited with code %d after SIGTERM, expected 0\n%s" % (code, self.log_tail())
            )

    def restart(self):
        """Starts again on the same ports and data dir (the old process must have ended)."""
        if self.running():
            raise RuntimeError("restart() needs the previous process to have ended")
        return self.start().wait_ready()

    def stop(self):
        """Cleanup for tearDown: ends the process however it can; never raises."""
        if self.process is not None:
            _stop_process(self.process)

    def log_tail(self, lines=60):
        return "---- tail of %s ----\n%s" % (self.log_path, tail(self.log_path, lines))


_METRIC_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*(?:\{[^}]*\})?) (\S+)$")


_SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:")


def sanitizer_reports(log_path):
    """Lines of an ASan/LSan/UBSan report in a server log (a debug build keeps running after a
    UBSan report, so only the log shows it)."""
    try:
        text = Path(log_path).read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if _SANITIZER_REPORT.search(line)]


def assert_clean_log(test, server):
    """No sanitizer report in `server`'s log (a Waggle or anything with log_path, log_tail)."""
    test.assertEqual([], sanitizer_reports(server.log_path),
                     "sanitizer reports in %s\n%s" % (server.log_path, server.log_tail()))


def terminate_cleanly(test, waggle):
    """SIGTERM -> exit 0 in time (Waggle.terminate asserts it), and no sanitizer report logged."""
    waggle.terminate()
    assert_clean_log(test, waggle)


def read_metrics(http_url):
    """GET /metrics as {series: value}, e.g. {'waggle_xray_udp_rejected_total{reason="x"}': 0}."""
    status, _, body = http_get(http_url + "/metrics", timeout=10.0)
    if status != 200:
        raise AssertionError("GET %s/metrics: HTTP %d %r" % (http_url, status, body[:300]))
    out = {}
    for line in body.decode("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        match = _METRIC_LINE.match(line)
        if not match:
            raise AssertionError("unparsable /metrics line %r" % line)
        out[match.group(1)] = float(match.group(2))
    return out


def metric_total(metrics, name):
    """The sum of every series of metric `name` (any labels) in read_metrics() output; None
    when there is no such series."""
    values = [v for k, v in metrics.items() if k == name or k.startswith(name + "{")]
    return sum(values) if values else None


# --------------------------------------------------------------------------------------------
# AWS CLI


class AwsCliError(RuntimeError):
    def __init__(self, command, returncode, stdout, stderr):
        super().__init__(
            "%s exited with %d\nstderr:\n%s\nstdout:\n%s"
            % (" ".join(command), returncode, stderr.strip(), stdout.strip()[:2000])
        )
        self.returncode = returncode
        self.stderr = stderr


class AwsCli:
    """Runs Debian's /usr/bin/aws against one endpoint, isolated from the user's AWS setup.

    Credentials are the dummy pair test/test (so requests are SigV4-signed), the region is
    us-east-1, output is JSON, the pager is off, and HOME / AWS_CONFIG_FILE /
    AWS_SHARED_CREDENTIALS_FILE point into `workdir` so no real config or cache is read.
    """

    def __init__(self, endpoint_url, workdir, region="us-east-1"):
        self.endpoint_url = endpoint_url
        self.region = region
        home = Path(workdir) / "aws-home"
        (home / ".aws").mkdir(parents=True, exist_ok=True)
        self.env = client_env({
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_PAGER": "",
            "AWS_EC2_METADATA_DISABLED": "true",
        })

    def command(self, service, operation, *args):
        return [
            SYSTEM_AWS, service, operation, *[str(a) for a in args],
            "--endpoint-url", self.endpoint_url, "--region", self.region, "--output", "json",
        ]

    def __call__(self, service, operation, *args, timeout=120.0):
        """Runs `aws SERVICE OPERATION ARGS...`; returns the parsed JSON output ({} if none).

        Raises AwsCliError (with stderr) on a non-zero exit.
        """
        command = self.command(service, operation, *args)
        result = subprocess.run(
            command, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AwsCliError(command, result.returncode, result.stdout, result.stderr)
        return json.loads(result.stdout) if result.stdout.strip() else {}


# --------------------------------------------------------------------------------------------
# Instrumented apps


class PythonApp:
    """A Python program run with /usr/bin/python3 that serves TCP on `port` once it is up."""

    def __init__(self, script, args, port, log_path, env=None, host=LOOPBACK):
        self.script = str(script)
        self.args = [str(a) for a in args]
        self.host = host
        self.port = port
        self.log_path = Path(log_path)
        self.env = client_env(env)
        self.process = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def start(self, timeout=30.0):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [SYSTEM_PYTHON, self.script, *self.args], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self.env,
            )
        # A bare TCP connect, not an HTTP request: a request would create a trace of its own.
        wait_for_tcp_port(self.host, self.port, timeout, process=self.process,
                          log_path=self.log_path)
        return self

    def stop(self):
        if self.process is not None:
            _stop_process(self.process)

    def log_tail(self, lines=60):
        return "---- tail of %s ----\n%s" % (self.log_path, tail(self.log_path, lines))


def start_python_app(script, args, port, log_path, env=None, timeout=30.0):
    """Starts `/usr/bin/python3 script args...` and returns once `port` accepts connections."""
    return PythonApp(script, args, port, log_path, env).start(timeout)


class UdpTee:
    """Receives datagrams on a loopback port, records them and forwards each to `target`.

    Put between an SDK and the server, it tells the test exactly what the SDK sent. A thread
    does the forwarding; datagrams() may be called from any thread.
    """

    def __init__(self, target):
        self.target = target
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((LOOPBACK, 0))
        self._socket.settimeout(0.2)
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._lock = threading.Lock()
        self._datagrams = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="udp-tee", daemon=True)

    @property
    def address(self):
        """'host:port' as AWS_XRAY_DAEMON_ADDRESS wants it."""
        host, port = self._socket.getsockname()
        return "%s:%d" % (host, port)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self._socket.close()
        self._out.close()

    def datagrams(self):
        with self._lock:
            return list(self._datagrams)

    def _run(self):
        while not self._stopping.is_set():
            try:
                data, _ = self._socket.recvfrom(65536)
            except socket.timeout:
                continue
            with self._lock:
                self._datagrams.append(data)
            self._out.sendto(data, self.target)


# --------------------------------------------------------------------------------------------
# Node.js clients (test/e2e/node; `npm ci` there is done by scripts/install-deps)


NODE_DIR = Path(__file__).resolve().parent / "node"


def node_binary():
    """`node` on PATH (Debian's nodejs, or NodeSource's on developer machines)."""
    return shutil.which("node")


def node_clients_problem():
    """Why the Node clients cannot run ('' when they can): no node, or node_modules missing or
    older than package-lock.json (installed before a client was added), as install-deps judges."""
    fix = "run scripts/install-deps (it installs nodejs and runs `npm ci` in %s)" % NODE_DIR
    if node_binary() is None:
        return "`node` is not on PATH; " + fix
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    if not installed.is_file():
        return "%s/node_modules is missing; %s" % (NODE_DIR, fix)
    if installed.stat().st_mtime < (NODE_DIR / "package-lock.json").stat().st_mtime:
        return "%s/node_modules is older than package-lock.json; %s" % (NODE_DIR, fix)
    return ""


def require_node_clients():
    """Raises AssertionError naming the fix when the Node clients cannot run."""
    problem = node_clients_problem()
    if problem:
        raise AssertionError("the Node.js clients cannot run: " + problem)


def node_env(extra=None):
    """client_env() for Node clients: no OTEL_* from the shell, gRPC never via a proxy."""
    return client_env(dict({"no_grpc_proxy": "127.0.0.1,localhost"}, **(extra or {})))


class NodeRun:
    """The outcome of one Node script: returncode, stdout, stderr and `output`, the JSON object
    it printed last on stdout (None if there was none)."""

    def __init__(self, command, returncode, stdout, stderr):
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.output = None
        for line in reversed(stdout.splitlines()):
            if line.startswith("{"):
                try:
                    self.output = json.loads(line)
                except ValueError:
                    continue
                break

    def describe(self):
        return ("%s exited with %s\nstdout:\n%s\nstderr:\n%s"
                % (" ".join(self.command), self.returncode, self.stdout[-4000:],
                   self.stderr[-4000:]))


def run_node(script, args=(), timeout=90.0, env=None):
    """Runs `node NODE_DIR/script args...` to the end; returns a NodeRun (any exit code)."""
    command = [node_binary(), str(NODE_DIR / script), *[str(a) for a in args]]
    result = subprocess.run(command, cwd=NODE_DIR, env=node_env(env), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=timeout)
    return NodeRun(command, result.returncode, result.stdout, result.stderr)


class NodeApp:
    """A long-running Node script that prints {"port": N} on stdout once it listens (port 0).

    stderr goes to `log_path`; stdout is read only for that first line.
    """

    def __init__(self, script, args, log_path, env=None, host=LOOPBACK):
        self.command = [node_binary(), str(NODE_DIR / script), *[str(a) for a in args]]
        self.log_path = Path(log_path)
        self.env = node_env(env)
        self.host = host
        self.port = None
        self.process = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def start(self, timeout=30.0):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=NODE_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=log, env=self.env,
            )
        line = self._first_line(timeout)
        try:
            self.port = int(json.loads(line)["port"])
        except (ValueError, KeyError, TypeError):
            self.stop()
            raise RuntimeError("%s printed %r instead of {\"port\": N}\n%s"
                               % (" ".join(self.command), line, self.log_tail()))
        wait_for_tcp_port(self.host, self.port, timeout, process=self.process,
                          log_path=self.log_path)
        return self

    def _first_line(self, timeout):
        result = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline()),
                                  name="node-app-stdout", daemon=True)
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            self.stop()
            raise RuntimeError("%s did not print its port within %.0f s (exit code %s)\n%s"
                               % (" ".join(self.command), timeout, self.process.returncode,
                                  self.log_tail()))
        return result[0].decode("utf-8", "replace").strip()

    def stop(self):
        if self.process is not None:
            _stop_process(self.process)
            if self.process.stdout is not None:
                self.process.stdout.close()

    def log_tail(self, lines=60):
        return "---- tail of %s ----\n%s" % (self.log_path, tail(self.log_path, lines))


# --------------------------------------------------------------------------------------------
# X-Ray specifics


XRAY_HEADER = b'{"format":"json","version":1}'


def xray_datagram(document):
    """Encodes a segment document (dict or JSON text) as a daemon datagram."""
    body = document if isinstance(document, str) else json.dumps(document)
    return XRAY_HEADER + b"\n" + body.encode("utf-8")


class UdpStream:
    """A thread sending one datagram per document at about `rate` a second until stop().
    `make_document(seq)` returns (trace id, document text); sent() maps every trace id handed
    to sendto to its text, and send_errors counts sendto failures."""

    def __init__(self, address, make_document, rate=1000):
        self.address = address
        self.rate = rate
        self._make_document = make_document
        self._sent = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="udp-stream", daemon=True)
        self.send_errors = 0

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def sent(self):
        with self._lock:
            return dict(self._sent)

    def _run(self):
        burst = 20
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            started = time.monotonic()
            count = 0
            while not self._stopping.is_set():
                for _ in range(burst):
                    trace_id, text = self._make_document(count)
                    with self._lock:
                        self._sent[trace_id] = text
                    try:
                        sock.sendto(xray_datagram(text), self.address)
                    except OSError:
                        self.send_errors += 1
                    count += 1
                ahead = count / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    self._stopping.wait(ahead)


def split_xray_datagram(datagram):
    """(header dict, body text) of a datagram, split at the first newline like the daemon does."""
    header, _, body = datagram.partition(b"\n")
    return json.loads(header), body.decode("utf-8")


def send_udp(address, datagrams):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, address)


_CAPTURED_BLOCK = re.compile(
    rb"(?:## datagram length: (\d+) bytes\n)?"
    rb"-----BEGIN DATAGRAM-----\n(.*?)\n-----END DATAGRAM-----", re.S)


def read_captured_datagrams(path):
    """Datagrams from a capture file in test/testdata.

    Files with `-----BEGIN DATAGRAM-----` / `-----END DATAGRAM-----` blocks hold several (the
    bytes between the markers, without the newlines next to them, are one datagram; a
    `## datagram length: N bytes` line before a block is checked); a file without markers is
    one datagram, byte for byte.
    """
    data = Path(path).read_bytes()
    blocks = []
    for match in _CAPTURED_BLOCK.finditer(data):
        length, datagram = match.groups()
        if length is not None and int(length) != len(datagram):
            raise ValueError("%s: datagram %d is %d bytes, its note says %s"
                             % (path, len(blocks) + 1, len(datagram), length.decode()))
        blocks.append(datagram)
    if len(blocks) != data.count(b"-----BEGIN DATAGRAM-----"):
        raise ValueError("%s: unbalanced BEGIN/END DATAGRAM markers" % path)
    return blocks if blocks else [data]


def batch_get_traces(aws, trace_ids):
    """BatchGetTraces for any number of ids, 5 per call (the API's limit).

    Returns (traces by id, unprocessed ids); each trace's Segments get a parsed `Doc` next to the
    `Document` string.
    """
    traces, unprocessed = {}, []
    ids = list(dict.fromkeys(trace_ids))
    for start in range(0, len(ids), 5):
        reply = aws("xray", "batch-get-traces", "--trace-ids", *ids[start:start + 5])
        for trace in reply.get("Traces", []):
            for segment in trace.get("Segments", []):
                segment["Doc"] = json.loads(segment["Document"])
            traces[trace["Id"]] = trace
        unprocessed.extend(reply.get("UnprocessedTraceIds", []))
    return traces, unprocessed


def walk_entities(document, parent=None):
    """Yields (entity, enclosing entity or None) for a document and all nested subsegments."""
    yield document, parent
    for child in document.get("subsegments", []) or []:
        yield from walk_entities(child, document)


# --------------------------------------------------------------------------------------------
# WAL files (docs/wal-format.md)

WAL_SEGMENT_NAME = re.compile(r"^\d{8}\.wal$")
WAL_FILE_HEADER = 16   # magic, version, the number of the file's earlier use (0: new)
WAL_RECORD_HEADER = 13  # masked CRC-32C, payload length, type, segment number (format 4)
WAL_SPAN_SOURCE = 3    # the record type of a request logged as it came


def wal_segments(data_dir):
    """The WAL segment files under data_dir/wal, in log order."""
    wal_dir = Path(data_dir) / "wal"
    return sorted(p for p in wal_dir.iterdir() if WAL_SEGMENT_NAME.match(p.name))


def wal_records(data, strict=True):
    """[(offset, type, payload length)] of the records in a segment's bytes. Strict: the framing
    must be intact to the end (a file waggle closed cleanly); else the records up to the first
    that does not fit (kill -9 may leave a partial one at the end). A reused segment (its header
    names the file's earlier number) ends at the first record naming another segment than the
    first record does: the rest is the file's earlier use."""
    records, at = [], WAL_FILE_HEADER
    reused = struct.unpack_from("<I", data, 12)[0] != 0 if len(data) >= 16 else False
    number = None
    while at < len(data):
        fits = len(data) - at >= WAL_RECORD_HEADER
        length = struct.unpack_from("<I", data, at + 4)[0] if fits else 0
        named = struct.unpack_from("<I", data, at + 9)[0] if fits else None
        if reused and number is not None and named != number:
            break
        if not fits or at + WAL_RECORD_HEADER + length > len(data):
            if strict:
                raise AssertionError("a partial record at offset %d" % at)
            break
        number = named
        records.append((at, data[at + 8], length))
        at += WAL_RECORD_HEADER + length
    return records


def wal_record_types(data_dir):
    """Counter of the record types in the WAL's segments (wal_records, not strict)."""
    return Counter(t for path in wal_segments(data_dir)
                   for _, t, _ in wal_records(path.read_bytes(), strict=False))


# --------------------------------------------------------------------------------------------
# Ids


def new_otel_trace_id(epoch=None):
    """32 hex whose first 8 are an epoch second, now by default: a valid X-Ray trace id."""
    return "%08x%024x" % (int(time.time() if epoch is None else epoch), random.getrandbits(96))


def new_trace_id(epoch=None):
    """An X-Ray trace id: 1-<epoch second, now by default, 8 hex>-<24 random hex>."""
    return xray_trace_id(new_otel_trace_id(epoch))


def xray_trace_id(hex_id):
    """32 hex -> 1-<8 hex>-<24 hex>, the X-Ray form of an X-Ray-generated OTel trace id."""
    return "1-%s-%s" % (hex_id[:8], hex_id[8:])


def new_span_id():
    """16 random hex digits: a span id, or an X-Ray segment or subsegment id."""
    return "%016x" % random.getrandbits(64)


# --------------------------------------------------------------------------------------------
# OTLP protobuf, encoded by hand (no generated code on the test machines)


def varint(n):
    """Protobuf's base-128 varint."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_len(field, payload):
    """A length-delimited field (bytes, string, embedded message)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def pb_varint(field, value):
    return varint(field << 3) + varint(value)


def pb_fixed64(field, value):
    return varint(field << 3 | 1) + value.to_bytes(8, "little")


def pb_string_attribute(key, value):
    """KeyValue{key, AnyValue{string_value}}, as a `attributes` field of number 1 or 9."""
    return pb_len(1, key) + pb_len(2, pb_len(1, value))


def pb_trace_request(service, spans):
    """A minimal ExportTraceServiceRequest (spec/otlp.md §5) with one resource and one scope.

    `spans`: dicts with trace_id, span_id (hex), name, kind (OTLP number), start_ns, end_ns and
    optionally parent_span_id (hex) and status_code (OTLP number).
    """
    encoded = b""
    for s in spans:
        span = (pb_len(1, bytes.fromhex(s["trace_id"])) + pb_len(2, bytes.fromhex(s["span_id"]))
                + (pb_len(4, bytes.fromhex(s["parent_span_id"])) if s.get("parent_span_id")
                   else b"")
                + pb_len(5, s["name"]) + pb_varint(6, s["kind"])
                + pb_fixed64(7, s["start_ns"]) + pb_fixed64(8, s["end_ns"]))
        if s.get("status_code"):
            span += pb_len(15, pb_varint(3, s["status_code"]))
        encoded += pb_len(2, span)
    resource = pb_len(1, pb_len(1, pb_string_attribute("service.name", service)))
    scope_spans = pb_len(2, pb_len(1, pb_len(1, "waggle-e2e-raw")) + encoded)
    return pb_len(1, resource + scope_spans)
