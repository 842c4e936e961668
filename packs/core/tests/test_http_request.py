"""Behaviour of the core.http_request action (actions/http_request.py), run as a subprocess.

Every request goes to an HTTP server started by these tests on 127.0.0.1 (port 0, so the
system picks a free port); nothing else is contacted. The action runs in a minimal
environment (PATH only), so proxy variables of the caller cannot redirect it elsewhere.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = PACK_ROOT / "actions" / "http_request.py"


class Handler(BaseHTTPRequestHandler):
    """Routes:

    /hello         200 text/plain "hello world"
    /echo          200 JSON describing the request (method, path, headers, body)
    /status/NNN    status NNN with body "status NNN"
    /redirect      302 to /hello
    /unicode       200, UTF-8 body with non-ASCII text
    /latin1        200, ISO-8859-1 body
    /cookies       200 with two Set-Cookie headers
    /slow          never answers: waits until the client hangs up
    """

    server_version = "CoreTestServer/1.0"

    def log_message(self, format, *args):  # keep the test output clean
        pass

    def handle_any(self):
        self.server.requests.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path == "/hello":
            self.reply(200, b"hello world", "text/plain")
        elif path == "/echo":
            described = {
                "method": self.command,
                "path": self.path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": body.decode("utf-8"),
            }
            self.reply(200, json.dumps(described).encode(), "application/json")
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self.reply(code, f"status {code}".encode(), "text/plain")
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/hello")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/unicode":
            self.reply(200, "héllo wörld ✓ 日本".encode(), "text/plain; charset=utf-8")
        elif path == "/latin1":
            self.reply(200, "café".encode("iso-8859-1"), "text/plain; charset=iso-8859-1")
        elif path == "/cookies":
            self.send_response(200)
            self.send_header("Set-Cookie", "a=1")
            self.send_header("Set-Cookie", "b=2")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/slow":
            # Blocks until the client closes the connection (EOF). No answer can beat the
            # client's timeout however slow the machine is, and nothing is left to reply to.
            self.rfile.read(1)
            self.close_connection = True
        else:
            self.reply(404, b"not found", "text/plain")

    def reply(self, code, body, content_type):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler still waiting in /slow must not block shutdown

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is expected here


SERVER = None
# The timeout case waits its 1 s timeout, so it starts with the server and runs while the
# other tests do; test_timeout_exits_1 collects its result.
SLOW_RUN = None


def action_command_and_env(params):
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    for name, value in params.items():
        env[f"ATTUNE_ACTION_{name.upper()}"] = value
    # -I -S: no site-packages and no PYTHON* variables, which proves the action needs
    # only the standard library (and starts faster).
    return [sys.executable, "-I", "-S", str(SCRIPT)], env


def setUpModule():
    """One server for the whole module, on a port the system picks."""
    global SERVER, SLOW_RUN
    SERVER = QuietServer(("127.0.0.1", 0), Handler)
    SERVER.requests = []
    thread = threading.Thread(target=SERVER.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    SERVER.thread = thread
    command, env = action_command_and_env(
        {"url": f"http://127.0.0.1:{SERVER.server_address[1]}/slow", "timeout": "1"})
    SLOW_RUN = (time.monotonic(), subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8"))


def tearDownModule():
    if SLOW_RUN[1].poll() is None:
        SLOW_RUN[1].kill()
        SLOW_RUN[1].wait()
    SERVER.shutdown()
    SERVER.server_close()
    SERVER.thread.join(timeout=5)


class LocalServerTest(unittest.TestCase):
    def setUp(self):
        self.server = SERVER
        self.base = f"http://127.0.0.1:{SERVER.server_address[1]}"

    def run_action(self, **params):
        """Run the action with params as ATTUNE_ACTION_<NAME>; a 'path' param becomes the url."""
        if "path" in params:
            params["url"] = self.base + params.pop("path")
        command, env = action_command_and_env(params)
        return subprocess.run(command, env=env, capture_output=True, encoding="utf-8", timeout=30)

    def response(self, result, exit_code=0):
        """The JSON object the action printed, after checking the exit code and stderr."""
        self.assertEqual(result.returncode, exit_code, result.stderr)
        if exit_code == 0:
            self.assertEqual(result.stderr, "")
        self.assertTrue(result.stdout.endswith("\n"))
        self.assertEqual(result.stdout.count("\n"), 1, "expected exactly one line of JSON")
        return json.loads(result.stdout)

    def assertFailedCleanly(self, result, *fragments):
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr.count("\n"), 1, result.stderr)
        self.assertTrue(result.stderr.startswith("http_request: "), result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)

    def echoed(self, result):
        """The request as the /echo route saw it."""
        return json.loads(self.response(result)["body"])


class HttpRequestSuccessTest(LocalServerTest):
    def test_get_prints_status_headers_body_and_elapsed_ms(self):
        output = self.response(self.run_action(path="/hello"))
        self.assertEqual(set(output), {"status", "headers", "body", "elapsed_ms"})
        self.assertEqual(output["status"], 200)
        self.assertEqual(output["body"], "hello world")
        self.assertEqual(output["headers"]["content-type"], "text/plain")
        self.assertEqual(output["headers"]["content-length"], "11")
        self.assertIsInstance(output["elapsed_ms"], int)
        self.assertGreaterEqual(output["elapsed_ms"], 0)

    def test_method_defaults_to_get(self):
        self.assertEqual(self.echoed(self.run_action(path="/echo", method=""))["method"], "GET")

    def test_post_sends_the_body(self):
        seen = self.echoed(self.run_action(path="/echo", method="POST", body='{"k": "v"}',
                                           headers='{"Content-Type": "application/json"}'))
        self.assertEqual(seen["method"], "POST")
        self.assertEqual(seen["body"], '{"k": "v"}')
        self.assertEqual(seen["headers"]["content-type"], "application/json")
        self.assertEqual(seen["headers"]["content-length"], "10")

    def test_body_is_sent_as_utf8(self):
        seen = self.echoed(self.run_action(path="/echo", method="PUT", body="grüße ✓"))
        self.assertEqual(seen["body"], "grüße ✓")
        self.assertEqual(seen["headers"]["content-length"], str(len("grüße ✓".encode())))

    def test_put_patch_and_delete_use_their_method(self):
        for method in ("PUT", "PATCH", "DELETE"):
            with self.subTest(method=method):
                seen = self.echoed(self.run_action(path="/echo?x=1", method=method, body="b"))
                self.assertEqual((seen["method"], seen["path"], seen["body"]),
                                 (method, "/echo?x=1", "b"))

    def test_head_returns_headers_and_an_empty_body(self):
        output = self.response(self.run_action(path="/hello", method="HEAD"))
        self.assertEqual(output["status"], 200)
        self.assertEqual(output["body"], "")
        self.assertEqual(output["headers"]["content-length"], "11")
        self.assertIn(("HEAD", "/hello"), self.server.requests)

    def test_custom_headers_are_sent(self):
        headers = json.dumps({"X-Request-Id": "abc-123", "Accept": "text/plain",
                              "Authorization": "Bearer t0ken"})
        seen = self.echoed(self.run_action(path="/echo", headers=headers))
        self.assertEqual(seen["headers"]["x-request-id"], "abc-123")
        self.assertEqual(seen["headers"]["accept"], "text/plain")
        self.assertEqual(seen["headers"]["authorization"], "Bearer t0ken")

    def test_user_agent_defaults_to_the_action_and_can_be_overridden(self):
        default = self.echoed(self.run_action(path="/echo"))
        self.assertEqual(default["headers"]["user-agent"], "attune-core.http_request")
        custom = self.echoed(self.run_action(path="/echo", headers='{"user-agent": "probe/2"}'))
        self.assertEqual(custom["headers"]["user-agent"], "probe/2")

    def test_empty_headers_object_is_accepted(self):
        self.assertEqual(self.response(self.run_action(path="/hello", headers="{}"))["status"], 200)

    def test_response_header_names_are_lower_case_and_repeats_are_joined(self):
        output = self.response(self.run_action(path="/cookies"))
        self.assertEqual(output["headers"]["set-cookie"], "a=1, b=2")
        self.assertEqual(output["headers"]["server"].split()[0], "CoreTestServer/1.0")
        self.assertTrue(all(name == name.lower() for name in output["headers"]))

    def test_body_is_decoded_with_its_charset(self):
        self.assertEqual(self.response(self.run_action(path="/unicode"))["body"], "héllo wörld ✓ 日本")
        self.assertEqual(self.response(self.run_action(path="/latin1"))["body"], "café")

    def test_redirects_are_followed(self):
        output = self.response(self.run_action(path="/redirect"))
        self.assertEqual((output["status"], output["body"]), (200, "hello world"))
        self.assertIn(("GET", "/redirect"), self.server.requests)

    def test_explicit_timeout_is_accepted(self):
        self.assertEqual(self.response(self.run_action(path="/hello", timeout="300"))["status"], 200)


class HttpRequestStatusTest(LocalServerTest):
    def test_error_statuses_are_responses_without_expected_status(self):
        for code in (404, 500):
            with self.subTest(code=code):
                output = self.response(self.run_action(path=f"/status/{code}"))
                self.assertEqual((output["status"], output["body"]), (code, f"status {code}"))

    def test_expected_404_exits_0(self):
        output = self.response(self.run_action(path="/nowhere", expected_status="404"))
        self.assertEqual((output["status"], output["body"]), (404, "not found"))

    def test_expected_500_exits_0(self):
        output = self.response(self.run_action(path="/status/500", expected_status="500"))
        self.assertEqual(output["status"], 500)

    def test_expected_200_exits_0(self):
        self.assertEqual(self.response(self.run_action(path="/hello", expected_status="200"))["status"], 200)

    def test_unexpected_404_exits_1_and_still_prints_the_response(self):
        result = self.run_action(path="/status/404", expected_status="200")
        output = self.response(result, exit_code=1)
        self.assertEqual(output["status"], 404)
        self.assertEqual(result.stderr, "http_request: expected status 200, got 404\n")

    def test_unexpected_500_exits_1(self):
        result = self.run_action(path="/status/500", expected_status="201")
        self.assertEqual(self.response(result, exit_code=1)["status"], 500)
        self.assertEqual(result.stderr, "http_request: expected status 201, got 500\n")

    def test_unexpected_200_exits_1(self):
        result = self.run_action(path="/hello", expected_status="404")
        self.assertEqual(self.response(result, exit_code=1)["status"], 200)
        self.assertEqual(result.stderr, "http_request: expected status 404, got 200\n")


class HttpRequestNetworkErrorTest(LocalServerTest):
    def test_connection_refused_exits_1(self):
        with socket.socket() as probe:  # a port that was free a moment ago and has no listener
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{port}/"
        self.assertFailedCleanly(self.run_action(url=url), f"GET {url} failed:")

    def test_server_that_hangs_up_exits_1(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)

            def hang_up():
                connection, _ = listener.accept()
                connection.recv(1024)
                connection.close()

            thread = threading.Thread(target=hang_up, daemon=True)
            thread.start()
            url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
            # A generous timeout: the hang-up, not the timeout, must end the request, even
            # when a busy machine is slow to run the listener's thread.
            self.assertFailedCleanly(self.run_action(url=url, timeout="30"), f"GET {url} failed:")
            thread.join(timeout=5)


class HttpRequestTimeoutTest(LocalServerTest):
    """Runs after most other tests (unittest orders classes by name), so the request that
    setUpModule started against /slow has usually finished by now."""

    def test_timeout_exits_1(self):
        started, process = SLOW_RUN
        stdout, stderr = process.communicate(timeout=30)
        elapsed = time.monotonic() - started
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        # /slow never answers, so the only way out is the action's own timeout: the message
        # names it, and the request did reach the server. The time has a lower bound only: the
        # clock started with the module, and on a busy machine the tests before this one (and
        # the action itself) can take any time.
        self.assertFailedCleanly(result, f"GET {self.base}/slow timed out after 1 s")
        self.assertIn(("GET", "/slow"), self.server.requests)
        self.assertGreaterEqual(elapsed, 1)


class HttpRequestValidationTest(LocalServerTest):
    """Invalid input through the command line: exit 2, one stderr line naming the parameter,
    nothing on stdout, and no request sent. One representative value per parameter; the
    full lists of rejected values are checked in-process by HttpRequestParameterTest."""

    def requests_so_far(self):
        return [request for request in self.server.requests if request[1] != "/slow"]

    def assertRejected(self, expected_stderr, **params):
        before = self.requests_so_far()
        result = self.run_action(**params)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr, expected_stderr)
        self.assertEqual(self.requests_so_far(), before, "a request was sent anyway")

    def test_missing_url_exits_2(self):
        self.assertRejected(
            "http_request: parameter 'url' is required (an http:// or https:// URL)\n")

    def test_non_http_url_exits_2(self):
        self.assertRejected("http_request: parameter 'url' must be an http:// or https:// URL, "
                            "got 'ftp://127.0.0.1/x'\n", url="ftp://127.0.0.1/x")

    def test_invalid_method_exits_2(self):
        self.assertRejected("http_request: parameter 'method' must be one of GET, POST, PUT, "
                            "PATCH, DELETE, HEAD, got 'FETCH'\n", path="/hello", method="FETCH")

    def test_invalid_timeout_exits_2(self):
        self.assertRejected("http_request: parameter 'timeout' must be a number between 1 and "
                            "300, got '0.5'\n", path="/hello", timeout="0.5")

    def test_invalid_headers_exit_2(self):
        self.assertRejected("http_request: parameter 'headers' must be a JSON object of strings, "
                            "got 'X-A: 1'\n", path="/hello", headers="X-A: 1")
        self.assertRejected("http_request: parameter 'headers' value of 'X-A' must be a string, "
                            "got 1\n", path="/hello", headers='{"X-A": 1}')

    def test_invalid_expected_status_exits_2(self):
        self.assertRejected("http_request: parameter 'expected_status' must be an integer "
                            "between 100 and 599, got '600'\n", path="/hello",
                            expected_status="600")


def load_action():
    spec = importlib.util.spec_from_file_location("core_http_request", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class HttpRequestParameterTest(unittest.TestCase):
    """The parameter parsers of the action, called in-process (fast) with many values."""

    @classmethod
    def setUpClass(cls):
        cls.action = load_action()

    def assertInvalid(self, parse, raw, parameter, fragment):
        with self.assertRaises(self.action.InvalidParameter) as caught:
            parse(raw)
        message = str(caught.exception)
        self.assertTrue(message.startswith(f"parameter '{parameter}' "), message)
        self.assertIn(fragment, message)
        self.assertNotIn("\n", message)

    def test_valid_urls(self):
        for url in ("http://127.0.0.1/", "https://example.invalid:8443/a?b=c#d",
                    "HTTP://127.0.0.1:8080", "http://[::1]:8080/x"):
            with self.subTest(url=url):
                self.assertEqual(self.action.parse_url(url), url)

    def test_non_ascii_urls_are_encoded(self):
        self.assertEqual(self.action.parse_url("http://127.0.0.1/caf\u00e9?q=\u2713"),
                         "http://127.0.0.1/caf%C3%A9?q=%E2%9C%93")
        self.assertEqual(self.action.parse_url("http://b\u00fccher.example/"),
                         "http://xn--bcher-kva.example/")

    def test_url_must_be_http_or_https(self):
        for url in ("ftp://127.0.0.1/x", "file:///etc/passwd", "127.0.0.1:8080/x", "/hello",
                    "javascript:alert(1)", "gopher://127.0.0.1/", "httpx://127.0.0.1/"):
            with self.subTest(url=url):
                self.assertInvalid(self.action.parse_url, url, "url",
                                   f"must be an http:// or https:// URL, got {url!r}")

    def test_url_needs_a_host_and_a_valid_port(self):
        for url in ("http://", "http:///path", "https://:80/"):
            with self.subTest(url=url):
                self.assertInvalid(self.action.parse_url, url, "url", "must include a host")
        for url in ("http://127.0.0.1:99999/", "http://127.0.0.1:abc/"):
            with self.subTest(url=url):
                self.assertInvalid(self.action.parse_url, url, "url", "invalid port")

    def test_url_without_spaces_control_characters_or_credentials(self):
        for url in ("http://127.0.0.1/a b", "http://127.0.0.1/a\tb", "http://127.0.0.1/\x7f",
                    " http://127.0.0.1/", "http://127.0.0.1/\n"):
            with self.subTest(url=url):
                self.assertInvalid(self.action.parse_url, url, "url",
                                   "must not contain spaces or control characters")
        for url in ("http://user:pw@127.0.0.1/", "https://token@127.0.0.1/"):
            with self.subTest(url=url):
                self.assertInvalid(self.action.parse_url, url, "url", "credentials")

    def test_methods(self):
        self.assertEqual(self.action.parse_method(None), "GET")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            self.assertEqual(self.action.parse_method(method), method)
        for method in ("get", "Post", "FETCH", "CONNECT", "TRACE", "OPTIONS", " GET"):
            with self.subTest(method=method):
                self.assertInvalid(self.action.parse_method, method, "method",
                                   f"must be one of GET, POST, PUT, PATCH, DELETE, HEAD, got {method!r}")

    def test_timeouts(self):
        self.assertEqual(self.action.parse_timeout(None), 30)
        for raw, value in (("1", 1), ("300", 300), ("30.5", 30.5), ("1.0", 1), ("0300", 300)):
            self.assertEqual(self.action.parse_timeout(raw), value)
        for raw in ("0", "0.5", "300.5", "301", "-1", "abc", "1e2", "nan", "inf", " 5", "5s", "."):
            with self.subTest(timeout=raw):
                self.assertInvalid(self.action.parse_timeout, raw, "timeout",
                                   f"must be a number between 1 and 300, got {raw!r}")

    def test_headers_must_be_a_json_object(self):
        self.assertEqual(self.action.parse_headers(None), {})
        self.assertEqual(self.action.parse_headers('{"X-A": "1", "b": ""}'), {"X-A": "1", "b": ""})
        for raw in ("not json", "{'a': 'b'}", '["X-A", "1"]', '"X-A: 1"', "42", "null"):
            with self.subTest(headers=raw):
                self.assertInvalid(self.action.parse_headers, raw, "headers",
                                   "must be a JSON object of strings")

    def test_header_values_must_be_strings(self):
        for value in ("1", "true", "null", '["a"]', '{"b": "c"}'):
            with self.subTest(value=value):
                self.assertInvalid(self.action.parse_headers, f'{{"X-A": {value}}}', "headers",
                                   "value of 'X-A' must be a string")

    def test_header_names_and_values_must_be_safe(self):
        cases = (('{"Bad Name": "x"}', "invalid header name 'Bad Name'"),
                 ('{"": "x"}', "invalid header name ''"),
                 ('{"X:Y": "x"}', "invalid header name 'X:Y'"),
                 ('{"X-A": "1\\r\\nX-Injected: 2"}', "must not contain CR, LF or NUL"),
                 ('{"X-A": "\\u0000"}', "must not contain CR, LF or NUL"),
                 ('{"X-A": "\\u2713"}', "must be Latin-1 text"))
        for raw, fragment in cases:
            with self.subTest(headers=raw):
                self.assertInvalid(self.action.parse_headers, raw, "headers", fragment)

    def test_expected_status(self):
        self.assertIsNone(self.action.parse_expected_status(None))
        for raw in ("100", "200", "404", "599"):
            self.assertEqual(self.action.parse_expected_status(raw), int(raw))
        for raw in ("abc", "99", "600", "2000", "20", "200.0", "-200", " 200", "0x1"):
            with self.subTest(status=raw):
                self.assertInvalid(self.action.parse_expected_status, raw, "expected_status",
                                   f"must be an integer between 100 and 599, got {raw!r}")


if __name__ == "__main__":
    unittest.main()
