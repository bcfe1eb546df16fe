#!/usr/bin/python3
"""End-to-end: `waggle demo` sending its workload to a real `waggle serve`.

    /usr/bin/python3 test/e2e/demo_test.py --waggle build/waggle [unittest args, e.g. -v]
    (or WAGGLE_BIN=build/waggle /usr/bin/python3 test/e2e/demo_test.py)

`waggle demo` (src/server/demo.cc) sends traces of the workload in src/workload/generator.h:
backend-flask's part as X-Ray segment documents over UDP, frontend's and user-service's spans
over OTLP/HTTP protobuf (POST /v1/traces), linked into one trace: the frontend's fetch span is
the parent of backend-flask's segment, and backend-flask's user-service subsegment the parent
of user-service's server span. Everything is read back through the server's public interfaces
(/metrics, the X-Ray API with the AWS CLI and raw unsigned calls).

  DemoTraffic        one 4 s run at 25 traces/s, seed 42: exit 0 and the summary it prints;
                     /metrics and the X-Ray API agree with that summary exactly; every trace
                     links frontend -> backend-flask -> user-service across the two protocols;
                     the trace count fits rate x duration; /api/reports is the slow route;
                     5xx traces carry faults and exceptions; annotations and users in
                     GetTraceSummaries; summaries agree with the traces they summarize
  DemoSeed           the same --seed sends the same traces (ids, routes, users, timing);
                     another seed sends others
  DemoStopSignal     --duration 0 sends until SIGTERM, then sends what is pending and exits 0
  DemoApiKey         --api-key is sent as x-honeycomb-team: the right key is let in, a wrong
                     one is refused (401), counted and reported, and UDP goes on regardless
  DemoOtlpDown       an OTLP address nobody listens on: failures counted and reported, the
                     X-Ray part still lands, exit 0
  DemoBadFlags       bad flag values: non-zero exit within seconds, one clear stderr line,
                     nothing sent
  DemoExtremeFlagValues  values the flags accept but demo mishandles (see the test docstrings)

Every server runs on loopback in a temp dir with ports from harness.free_port() (one server per
class). WAGGLE_E2E_KEEP=1 keeps the temp dirs (server logs, data dirs).
"""

import json
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from harness import read_metrics  # noqa: E402

WAGGLE_BIN = None  # set by h.main() from --waggle / $WAGGLE_BIN

DEMO_RATE = 25       # traces/s of the main run
DEMO_SECONDS = 4     # its --duration
DEMO_SEED = 42       # its --seed: the traces (routes, errors, users) are the same every run
RATE_TOLERANCE = 0.5  # traces sent must be within (1 +- this) x rate x duration
SHORT_SECONDS = 1.5  # --duration of the other runs
DEMO_TIMEOUT = 60.0  # one demo run; only a hung demo reaches it
DATA_TIMEOUT = 15.0  # seconds sent data gets to show up in /metrics and the X-Ray API
BAD_FLAG_SECONDS = 5.0  # a bad flag value must end demo this fast
STOP_SECONDS = 5.0   # SIGTERM must end demo this fast
SLOW_ROUTE_FACTOR = 5  # /api/reports' median backend time over the other routes' (it is ~40x)
TIME_TOLERANCE = 2e-6  # seconds; the workload's times are whole microseconds

# The workload's names (src/workload/generator.{h,cc}).
FRONTEND, BACKEND, USER_SERVICE = "frontend", "backend-flask", "user-service"
SLOW_ROUTE = "/api/reports"
CUSTOMER_SEGMENTS = {"consumer", "smb", "enterprise", "wholesale"}
HANDLERS = {  # backend-flask's http.route -> its Flask view, annotation "handler"
    "/api/activities/home": "data_home",
    "/api/activities/@<handle>": "data_handle",
    "/api/activities": "data_activities",
    "/api/messages/<message_group_uuid>": "data_messages",
    "/api/checkout": "data_checkout",
    "/api/reports": "data_reports",
}
BACKEND_ORIGIN = "AWS::EC2::Instance"  # backend-flask's segments (cloud.platform aws_ec2)

# Demo's own lines on stdout (src/server/demo.cc): a banner, a progress line every 5 s, and
# "done: ..." at the end.
COUNTS_LINE = re.compile(
    r"^waggle demo: (?P<done>done: )?(?P<traces>\d+) traces: (?P<segments>\d+) X-Ray segments "
    r"sent, (?P<otlp_spans>\d+) OTLP spans in (?P<otlp_requests>\d+) requests"
    r"(?:, (?P<failed>\d+) failed \(last: (?P<last_error>.*)\))?$")

# /metrics counters.
UDP_DATAGRAMS = "waggle_xray_udp_datagrams_total"
UDP_SEGMENTS = "waggle_xray_udp_segments_accepted_total"
UDP_SPANS = "waggle_xray_udp_spans_accepted_total"
UDP_REJECTED = "waggle_xray_udp_rejected_total"
OTLP_REQUESTS = "waggle_otlp_http_requests_total"
OTLP_SPANS = "waggle_otlp_spans_accepted_total"
OTLP_REJECTED = "waggle_otlp_spans_rejected_total"
OTLP_UNAUTHENTICATED = "waggle_otlp_requests_unauthenticated_total"
STORE_TRACES = "waggle_store_traces"


# --------------------------------------------------------------------------------------------
# Running demo


class DemoRun:
    """The outcome of one `waggle demo`: returncode, stdout, stderr, elapsed seconds."""

    def __init__(self, command, returncode, stdout, stderr, elapsed):
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def lines(self):
        return self.stdout.splitlines()

    def done(self):
        """The final counts line as ints (failed 0 and last_error None without failures), or
        None when the last line of stdout is not one."""
        lines = self.lines()
        match = COUNTS_LINE.match(lines[-1]) if lines else None
        if not match or not match.group("done"):
            return None
        counts = {k: int(match.group(k) or 0)
                  for k in ("traces", "segments", "otlp_spans", "otlp_requests", "failed")}
        counts["last_error"] = match.group("last_error")
        return counts

    def describe(self):
        return ("%s\n  exit code %s after %.2f s\n  stdout: %r\n  stderr: %r"
                % (" ".join(self.command), self.returncode, self.elapsed, self.stdout[-3000:],
                   self.stderr[-3000:]))


def demo_command(*args):
    return [WAGGLE_BIN, "demo", *[str(a) for a in args]]


def run_demo(*args, timeout=DEMO_TIMEOUT):
    """Runs `waggle demo ARGS` to its end; returns a DemoRun (AssertionError if it hangs)."""
    command = demo_command(*args)
    started = time.monotonic()
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=timeout, env=h.client_env())
    except subprocess.TimeoutExpired as error:
        raise AssertionError("%s still running after %.0f s (stdout so far: %r)"
                             % (" ".join(command), timeout, error.stdout))
    return DemoRun(command, result.returncode, result.stdout, result.stderr,
                   time.monotonic() - started)


def targets(waggle, otlp_http=None):
    """--xray-udp / --otlp-http for `waggle` (otlp_http: another OTLP address)."""
    return ["--xray-udp", "%s:%d" % waggle.xray_udp_address,
            "--otlp-http", otlp_http or "%s:%d" % (h.LOOPBACK, waggle.otlp_http_port)]


def banner(rate, xray_udp, otlp_http, until_signal=False):
    """Demo's first line (demo.cc)."""
    return ("waggle demo: about %s traces/s of a React frontend, backend-flask (X-Ray, udp %s) "
            "and user-service (OTLP, http://%s/v1/traces); %s"
            % (rate, xray_udp, otlp_http,
               "Ctrl-C stops" if until_signal else "stops after --duration"))


# --------------------------------------------------------------------------------------------
# Reading back (raw unsigned X-Ray API calls: these servers have no aws_credentials, and raw
# HTTP reads hundreds of traces in well under a second where the CLI would take a minute)


def xray_call(endpoint, path, payload):
    status, _, body = h.http_request("POST", endpoint + path, json.dumps(payload).encode(),
                                     {"Content-Type": "application/x-amz-json-1.1"})
    if status != 200:
        raise AssertionError("POST %s%s: HTTP %d %r" % (endpoint, path, status, body[:300]))
    return json.loads(body)


def summaries(endpoint, start, end):
    """GetTraceSummaries [start, end] (trace id time), every page: {trace id: summary}."""
    out, token = {}, None
    while True:
        payload = {"StartTime": start, "EndTime": end}
        if token:
            payload["NextToken"] = token
        reply = xray_call(endpoint, "/TraceSummaries", payload)
        out.update((s["Id"], s) for s in reply.get("TraceSummaries", []))
        token = reply.get("NextToken")
        if not token:
            return out


def stored_trace_ids(endpoint):
    """Every trace id the server lists for the last hour (to the next)."""
    now = time.time()
    return set(summaries(endpoint, now - 3600, now + 3600))


def segment_documents(endpoint, trace_ids):
    """BatchGetTraces, 5 ids a call: {trace id: [parsed segment documents]}."""
    out, ids = {}, sorted(set(trace_ids))
    for start in range(0, len(ids), 5):
        reply = xray_call(endpoint, "/Traces", {"TraceIds": ids[start:start + 5]})
        for trace in reply.get("Traces", []):
            out[trace["Id"]] = [json.loads(s["Document"]) for s in trace["Segments"]]
    return out


def is_segment(doc):
    return doc.get("type") != "subsegment"


def metadata(doc):
    return (doc.get("metadata") or {}).get("default") or {}


class DemoTrace:
    """The documents BatchGetTraces returns for one demo trace, by role:

      root      frontend's interaction span (OTLP): a segment without parent
      fetch     frontend's fetch (OTLP CLIENT, peer.service backend-flask): a subsegment
      backend   backend-flask's X-Ray segment (UDP), with its calls embedded as subsegments
      calls     backend's subsegments named user-service (its HTTP calls to user-service)
      users     user-service's server spans (OTLP): segments
      reads     user-service's DynamoDB GetItem (OTLP CLIENT): subsegments
    """

    def __init__(self, trace_id, docs):
        self.id = trace_id
        self.docs = docs
        self.roots = [d for d in docs if d.get("name") == FRONTEND and is_segment(d)
                      and not d.get("parent_id")]
        self.backends = [d for d in docs if d.get("origin") == BACKEND_ORIGIN]
        self.fetches = [d for d in docs if d.get("name") == BACKEND and not is_segment(d)]
        self.users = [d for d in docs if d.get("name") == USER_SERVICE and is_segment(d)]
        self.reads = [d for d in docs if d.get("name") == "DynamoDB" and not is_segment(d)]
        self.root = self.roots[0] if len(self.roots) == 1 else None
        self.backend = self.backends[0] if len(self.backends) == 1 else None
        self.fetch = self.fetches[0] if len(self.fetches) == 1 else None
        self.calls = [s for s in (self.backend or {}).get("subsegments", [])
                      if s.get("name") == USER_SERVICE]

    @property
    def otlp_documents(self):
        """The documents that came over OTLP (one per span): all but backend-flask's."""
        return [d for d in self.docs if d.get("origin") != BACKEND_ORIGIN]

    @property
    def route(self):
        return metadata(self.backend or {}).get("http.route")

    @property
    def status(self):
        return (((self.backend or {}).get("http") or {}).get("response") or {}).get("status")

    def backend_seconds(self):
        return self.backend["end_time"] - self.backend["start_time"]

    def problems(self):
        """What is wrong with the trace as the workload builds it ([] if nothing)."""
        problems = []
        for doc in self.docs:
            if doc.get("trace_id") != self.id:
                problems.append("%s (%s): trace_id %r" % (doc.get("id"), doc.get("name"),
                                                          doc.get("trace_id")))
        for what, found in (("frontend root segments", self.roots),
                            ("backend-flask X-Ray segments", self.backends),
                            ("frontend fetch subsegments", self.fetches)):
            if len(found) != 1:
                problems.append("%d %s, expected 1" % (len(found), what))
        if problems:
            return problems
        root, fetch, backend = self.root, self.fetch, self.backend

        # The links across the two protocols.
        if fetch.get("parent_id") != root["id"]:
            problems.append("fetch parent_id %r, expected the frontend root %s"
                            % (fetch.get("parent_id"), root["id"]))
        if backend.get("parent_id") != fetch["id"]:
            problems.append("backend-flask segment parent_id %r, expected frontend's fetch %s "
                            "(the X-Ray segment continues the OTel trace)"
                            % (backend.get("parent_id"), fetch["id"]))
        call_ids = sorted(c["id"] for c in self.calls)
        user_parents = sorted(u.get("parent_id") for u in self.users)
        if user_parents != call_ids:
            problems.append("user-service segments' parent_ids %s, expected backend-flask's "
                            "user-service subsegments %s" % (user_parents, call_ids))
        read_parents = sorted(r.get("parent_id") for r in self.reads)
        if read_parents != sorted(u["id"] for u in self.users):
            problems.append("DynamoDB GetItem parents %s, expected one under each user-service "
                            "segment %s" % (read_parents, sorted(u["id"] for u in self.users)))
        if len(self.docs) != 3 + 2 * len(self.calls):
            problems.append("%d documents, expected 3 + 2 per user-service call (%d calls): %s"
                            % (len(self.docs), len(self.calls),
                               [d.get("name") for d in self.docs]))
        # Children inside their parents.
        for outer, inner, what in ((root, fetch, "fetch in root"),
                                   (fetch, backend, "backend-flask in fetch"),
                                   *[(c, u, "user-service in its call")
                                     for c in self.calls for u in self.users
                                     if u.get("parent_id") == c["id"]]):
            if not (outer["start_time"] - TIME_TOLERANCE <= inner["start_time"]
                    <= inner["end_time"] <= outer["end_time"] + TIME_TOLERANCE):
                problems.append("%s: [%r, %r] is not inside [%r, %r]"
                                % (what, inner["start_time"], inner["end_time"],
                                   outer["start_time"], outer["end_time"]))

        # One user and one customer segment through the whole trace.
        users = {d.get("user") for d in (root, backend, *self.users)}
        if len(users) != 1 or None in users:
            problems.append("enduser.id differs between the services: %s" % users)
        annotations = backend.get("annotations") or {}
        segment = annotations.get("customer_segment")
        if segment not in CUSTOMER_SEGMENTS:
            problems.append("backend-flask annotation customer_segment %r" % segment)
        for doc in (root, *self.users):
            if metadata(doc).get("app.customer_segment") != segment:
                problems.append("%s's app.customer_segment %r, backend-flask's annotation %r"
                                % (doc["name"], metadata(doc).get("app.customer_segment"),
                                   segment))
        if self.route not in HANDLERS:
            problems.append("backend-flask http.route %r" % self.route)
        elif annotations.get("handler") != HANDLERS[self.route]:
            problems.append("route %s: annotation handler %r, expected %r"
                            % (self.route, annotations.get("handler"), HANDLERS[self.route]))

        # The response status and the flags it means.
        status = self.status
        if not isinstance(status, int):
            return problems + ["backend-flask has no http.response.status: %r" % status]
        for doc, role, flag, want in ((backend, "backend-flask", "fault", status >= 500),
                                      (backend, "backend-flask", "error", 400 <= status < 500),
                                      (backend, "backend-flask", "throttle", status == 429),
                                      (root, "frontend root", "fault", status >= 500),
                                      (fetch, "frontend fetch", "fault", status >= 500)):
            if bool(doc.get(flag)) != want:
                problems.append("status %d: %s %s %r, expected %s"
                                % (status, role, flag, doc.get(flag), want))
        if status >= 500 and not ((backend.get("cause") or {}).get("exceptions")):
            problems.append("status %d: backend-flask has no cause.exceptions" % status)
        for user in self.users:
            user_status = ((user.get("http") or {}).get("response") or {}).get("status")
            exceptions = (user.get("cause") or {}).get("exceptions") or []
            if user_status == 500:
                # wholesale customers meet one bug (KeyError), the others a bad record.
                want = "KeyError" if segment == "wholesale" else "TypeError"
                if [e.get("type") for e in exceptions] != [want]:
                    problems.append("user-service 500 for a %s customer: exceptions %s, "
                                    "expected one %s" % (segment, exceptions, want))
                if status != 500:
                    problems.append("user-service failed, backend-flask answered %d" % status)
            elif user_status != 200 or exceptions:
                problems.append("user-service: status %r, exceptions %s"
                                % (user_status, exceptions))
        return problems


# --------------------------------------------------------------------------------------------


class DemoTestCase(h.ServerTestCase):
    """One `waggle serve` (with OTLP listeners) per class; subclasses add `waggle_args`."""

    workdir_prefix = "waggle-e2e-demo-"
    otlp = True

    def metrics(self):
        return read_metrics(self.waggle.http_url)

    def metric(self, name, metrics=None):
        return h.metric_total(metrics or self.metrics(), name) or 0

    def wait_for_metrics(self, want):
        """Waits until each counter in `want` ({name: value}) has exactly that value; fails
        listing what differs. Exact: nothing else sends to this server."""
        def probe():
            metrics = self.metrics()
            got = {name: self.metric(name, metrics) for name in want}
            return got == want, got

        ok, got = h.wait_until(probe, DATA_TIMEOUT)
        self.assertEqual(want, got, "/metrics after %.0f s\n%s"
                         % (DATA_TIMEOUT, self.waggle.log_tail(20)))

    def assert_ran(self, run, rate, seconds=None, otlp_http=None):
        """Exit 0, nothing on stderr, the banner, then only counts lines; returns done()."""
        self.assertEqual(0, run.returncode, run.describe())
        self.assertEqual("", run.stderr, "nothing on stderr (sanitizers report there): "
                         + run.describe())
        lines = run.lines()
        self.assertGreaterEqual(len(lines), 2, "a banner and a final counts line: "
                                + run.describe())
        self.assertEqual(
            banner(rate, "%s:%d" % self.waggle.xray_udp_address,
                   otlp_http or "%s:%d" % (h.LOOPBACK, self.waggle.otlp_http_port),
                   until_signal=seconds is None),
            lines[0], run.describe())
        for line in lines[1:-1]:
            match = COUNTS_LINE.match(line)
            self.assertTrue(match and not match.group("done"),
                            "a progress line between the banner and the end: %r" % line)
        done = run.done()
        self.assertIsNotNone(done, "the last line is `waggle demo: done: ...`: " + run.describe())
        if seconds is not None:
            self.assertLess(run.elapsed, seconds + 5, "demo stops about --duration after it "
                            "starts: " + run.describe())
        return done


class SigtermLast:
    """Mixed into each test class: its server's SIGTERM ends the class (runs last by name)."""

    def test_zz_sigterm_exits_cleanly(self):
        h.terminate_cleanly(self, self.waggle)


# --------------------------------------------------------------------------------------------
# 1. One run, checked through every public interface


class DemoTraffic(SigtermLast, DemoTestCase):
    """`waggle demo --rate 25 --duration 4 --seed 42` once for the class (setUpClass); the
    tests check what it printed against what the server received and stored."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.demo = run_demo(*targets(cls.waggle), "--rate", DEMO_RATE,
                            "--duration", DEMO_SECONDS, "--seed", DEMO_SEED)
        cls._traces = None

    def sent(self):
        """The run's final counts (asserting it ran as it should)."""
        return self.assert_ran(self.demo, DEMO_RATE, DEMO_SECONDS)

    def traces(self):
        """{trace id: DemoTrace} of every trace the server lists, once all the run sent is in
        (/metrics). Read once per class."""
        if type(self)._traces is None:
            sent = self.sent()
            self.wait_for_metrics({UDP_SEGMENTS: sent["segments"], OTLP_SPANS: sent["otlp_spans"]})
            ids = stored_trace_ids(self.waggle.xray_endpoint)
            docs = segment_documents(self.waggle.xray_endpoint, ids)
            type(self)._traces = {i: DemoTrace(i, docs.get(i, [])) for i in ids}
        return type(self)._traces

    def test_demo_exits_0_and_prints_what_it_sent(self):
        sent = self.sent()
        traces = sent["traces"]
        self.assertGreater(traces, 0, self.demo.describe())
        self.assertEqual(0, sent["failed"], "no failed sends: " + self.demo.describe())
        self.assertEqual(traces, sent["segments"],
                         "one X-Ray segment per trace (backend-flask's, its calls embedded): "
                         + self.demo.describe())
        # frontend sends 2 spans per trace; user-service 2 more when backend-flask calls it.
        self.assertEqual(0, sent["otlp_spans"] % 2, self.demo.describe())
        self.assertGreaterEqual(sent["otlp_spans"], 2 * traces, self.demo.describe())
        self.assertLessEqual(sent["otlp_spans"], 4 * traces, self.demo.describe())
        # OTLP goes in one request a second (and one for what is left at the end).
        self.assertGreaterEqual(sent["otlp_requests"], DEMO_SECONDS - 1, self.demo.describe())
        self.assertLessEqual(sent["otlp_requests"], DEMO_SECONDS + 2, self.demo.describe())
        self.assertGreaterEqual(self.demo.elapsed, DEMO_SECONDS - 0.1,
                                "demo sends for --duration: " + self.demo.describe())

    def test_trace_count_fits_rate_times_duration(self):
        traces = self.sent()["traces"]
        expected = DEMO_RATE * DEMO_SECONDS
        self.assertGreaterEqual(traces, (1 - RATE_TOLERANCE) * expected, self.demo.describe())
        self.assertLessEqual(traces, (1 + RATE_TOLERANCE) * expected, self.demo.describe())

    def test_metrics_count_exactly_what_demo_sent_on_both_paths(self):
        sent = self.sent()
        self.wait_for_metrics({
            UDP_DATAGRAMS: sent["segments"], UDP_SEGMENTS: sent["segments"], UDP_REJECTED: 0,
            OTLP_REQUESTS: sent["otlp_requests"], OTLP_SPANS: sent["otlp_spans"],
            OTLP_REJECTED: 0, STORE_TRACES: sent["traces"],
        })

    def test_every_trace_links_frontend_backend_and_user_service(self):
        sent, traces = self.sent(), self.traces()
        self.assertEqual(sent["traces"], len(traces),
                         "GetTraceSummaries lists every trace demo sent")
        problems = ["%s: %s" % (t.id, p) for t in traces.values() for p in t.problems()]
        self.assertEqual([], problems[:30], "%d problems in %d traces"
                         % (len(problems), len(traces)))

        segment_names = {d["name"] for t in traces.values() for d in t.docs if is_segment(d)}
        self.assertEqual({FRONTEND, BACKEND, USER_SERVICE}, segment_names,
                         "the services' segments, from both protocols")
        with_user_service = [t for t in traces.values() if t.users]
        self.assertGreater(len(with_user_service), len(traces) / 2,
                           "most routes call user-service (75 of 93 by weight)")
        # Every span accounted for: the OTLP documents are the OTLP spans demo sent, the
        # X-Ray entities (segments and their subsegments) what the UDP listener accepted.
        self.assertEqual(sent["otlp_spans"],
                         sum(len(t.otlp_documents) for t in traces.values()))
        xray_entities = sum(len(list(h.walk_entities(t.backend))) for t in traces.values())
        self.assertEqual(self.metric(UDP_SPANS), xray_entities,
                         "%s: every backend-flask segment and subsegment" % UDP_SPANS)

    def test_one_trace_read_with_the_aws_cli_holds_all_three_services(self):
        traces = self.traces()
        linked = sorted(t.id for t in traces.values() if t.users and not t.problems())
        self.assertTrue(linked, "a trace through user-service")
        aws = h.AwsCli(self.waggle.xray_endpoint, self.workdir)
        returned, unprocessed = h.batch_get_traces(aws, linked[:1])
        self.assertEqual([], unprocessed)
        docs = [s["Doc"] for s in returned[linked[0]]["Segments"]]
        self.assertEqual(sorted(d["id"] for d in traces[linked[0]].docs),
                         sorted(d["id"] for d in docs), "the CLI reads the same documents")
        by_service = {d["name"]: d for d in docs if is_segment(d)}
        self.assertEqual({FRONTEND, BACKEND, USER_SERVICE}, set(by_service))
        self.assertEqual(BACKEND_ORIGIN, by_service[BACKEND].get("origin"),
                         "backend-flask's segment is the one sent over UDP")
        self.assertIn("otel.resource.service.name", metadata(by_service[USER_SERVICE]),
                      "user-service's segment is an OTel span")
        self.assertEqual(1, len({d["trace_id"] for d in docs}))

    def test_reports_is_the_slow_route(self):
        traces = [t for t in self.traces().values() if t.backend and (t.status or 0) < 500]
        reports = [t.backend_seconds() for t in traces if t.route == SLOW_ROUTE]
        others = [t.backend_seconds() for t in traces if t.route != SLOW_ROUTE]
        self.assertTrue(reports, "seed %d sends %s traces" % (DEMO_SEED, SLOW_ROUTE))
        self.assertTrue(others)
        self.assertGreater(statistics.median(reports),
                           SLOW_ROUTE_FACTOR * statistics.median(others),
                           "%s's median backend-flask time (%s) over the others' (%s)"
                           % (SLOW_ROUTE, sorted(reports), statistics.median(others)))
        routes = {t.route for t in traces}
        self.assertGreaterEqual(len(routes), 5, "the workload's six routes: %s" % routes)

    def test_server_errors_arrive_with_faults_and_exceptions(self):
        traces = self.traces().values()
        failed = [t for t in traces if t.backend and (t.status or 0) >= 500]
        # Seed 42 fails two of its first 90 traces (a Postgres timeout, a user-service KeyError
        # for a wholesale customer); DemoTrace.problems() checks their flags and causes.
        self.assertTrue(failed, "seed %d sends 5xx traces" % DEMO_SEED)
        self.assertLess(len(failed), len(traces) / 5, "about 2% of traces fail")
        for t in failed:
            self.assertEqual([], t.problems(), t.id)

    def test_summaries_list_every_trace_with_its_annotations_and_user(self):
        traces = self.traces()
        epochs = [int(i.split("-")[1], 16) for i in traces]
        aws = h.AwsCli(self.waggle.xray_endpoint, self.workdir)
        reply = aws("xray", "get-trace-summaries", "--start-time", min(epochs) - 1,
                    "--end-time", max(epochs) + 2)
        listed = {s["Id"]: s for s in reply.get("TraceSummaries", [])}
        self.assertEqual(sorted(traces), sorted(listed))
        problems = []
        for trace_id, summary in listed.items():
            backend = traces[trace_id].backend
            annotations = {k: [v["AnnotationValue"].get("StringValue") for v in values]
                           for k, values in summary.get("Annotations", {}).items()}
            want = {k: [v] for k, v in backend["annotations"].items()}
            if annotations != want:
                problems.append("%s: Annotations %s, expected %s" % (trace_id, annotations, want))
            users = [u["UserName"] for u in summary.get("Users", [])]
            if users != [backend["user"]]:
                problems.append("%s: Users %s, expected [%s]" % (trace_id, users, backend["user"]))
        self.assertEqual([], problems[:20], "%d problems" % len(problems))

    def test_summaries_agree_with_the_traces_they_summarize(self):
        """GetTraceSummaries of a trace with both X-Ray documents and OTel spans must describe
        the whole trace, like BatchGetTraces returns it (spec/xray.md: ServiceIds, Duration
        over all segments, ResponseTime and HasFault of the root segment)."""
        traces = self.traces()
        now = time.time()
        listed = summaries(self.waggle.xray_endpoint, now - 3600, now + 3600)
        problems = []
        for trace_id, t in sorted(traces.items()):
            summary = listed.get(trace_id)
            if summary is None or t.root is None:
                problems.append("%s: no summary or no root" % trace_id)
                continue
            segments = [d for d in t.docs if is_segment(d)]
            want_services = {d["name"] for d in segments}
            got_services = {s.get("Name") for s in summary.get("ServiceIds", [])}
            if not want_services <= got_services:
                problems.append("%s: ServiceIds %s lack %s"
                                % (trace_id, sorted(got_services),
                                   sorted(want_services - got_services)))
            duration = (max(d["end_time"] for d in segments)
                        - min(d["start_time"] for d in segments))
            response_time = t.root["end_time"] - t.root["start_time"]
            for field, want in (("Duration", duration), ("ResponseTime", response_time)):
                if abs(summary.get(field, -1) - want) > 1e-3:
                    problems.append("%s: %s %r, expected %.6f" % (trace_id, field,
                                                                  summary.get(field), want))
            if summary.get("HasFault") != bool(t.root.get("fault")):
                problems.append("%s: HasFault %r, the root segment's fault is %r"
                                % (trace_id, summary.get("HasFault"), t.root.get("fault")))
        self.assertEqual([], problems[:12], "%d problems in %d summaries"
                         % (len(problems), len(traces)))


# --------------------------------------------------------------------------------------------
# 2. --seed


class DemoSeed(SigtermLast, DemoTestCase):

    def run_seed(self, seed):
        """A short run with `seed`; returns its traces (those new on the server) in start
        order, as (id's random part, backend-flask segment id, route, user, customer segment,
        start offset from the run's first trace in µs)."""
        before, metrics = stored_trace_ids(self.waggle.xray_endpoint), self.metrics()
        run = run_demo(*targets(self.waggle), "--rate", 20, "--duration", SHORT_SECONDS,
                       "--seed", seed)
        sent = self.assert_ran(run, 20, SHORT_SECONDS)
        self.wait_for_metrics({UDP_SEGMENTS: self.metric(UDP_SEGMENTS, metrics) + sent["segments"],
                               OTLP_SPANS: self.metric(OTLP_SPANS, metrics) + sent["otlp_spans"]})
        ids = stored_trace_ids(self.waggle.xray_endpoint) - before
        self.assertEqual(sent["traces"], len(ids), "the run's traces are listed")
        traces = [DemoTrace(i, d) for i, d in
                  segment_documents(self.waggle.xray_endpoint, ids).items()]
        self.assertEqual([], [p for t in traces for p in t.problems()])
        traces.sort(key=lambda t: t.root["start_time"])
        first = traces[0].root["start_time"]
        return [(t.id.split("-")[2], t.backend["id"], t.route, t.backend["user"],
                 t.backend["annotations"]["customer_segment"],
                 round((t.root["start_time"] - first) * 1e6)) for t in traces]

    def test_same_seed_same_traces_other_seed_other_traces(self):
        first, again, other = self.run_seed(7), self.run_seed(7), self.run_seed(8)
        common = min(len(first), len(again))
        self.assertGreaterEqual(common, 10, "traces in each %.1f s run at 20/s" % SHORT_SECONDS)
        self.assertEqual(first[:common], again[:common],
                         "seed 7 twice: the same trace ids (after the epoch), segment ids, "
                         "routes, users and start offsets")
        self.assertEqual(set(), {t[0] for t in first} & {t[0] for t in other},
                         "seed 8 shares no trace id with seed 7")
        self.assertNotEqual([t[2:5] for t in first[:10]], [t[2:5] for t in other[:10]],
                            "seed 8 sends other routes / users")


# --------------------------------------------------------------------------------------------
# 3. --duration 0: until SIGTERM


class RunUntilSignal(DemoTestCase):
    """Helpers for runs stopped by SIGTERM."""

    def start_demo(self, *args):
        command = demo_command(*targets(self.waggle), *args)
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=h.client_env())

        def kill():
            if process.poll() is None:
                process.kill()
            process.communicate()

        self.addCleanup(kill)
        return command, process, time.monotonic()

    def wait_sending(self, command, process, started, min_seconds=0.0):
        """Waits until OTLP spans from `process` reached the server (its first flush is 1 s
        after the start) and `min_seconds` passed, with the process still running."""
        before = self.metric(OTLP_SPANS)

        def probe():
            if process.poll() is not None:
                raise h.ProcessExited("exited")
            return (self.metric(OTLP_SPANS) > before
                    and time.monotonic() - started >= min_seconds), None

        try:
            ok, _ = h.wait_until(probe, DATA_TIMEOUT)
        except h.ProcessExited:
            stdout, stderr = process.communicate()
            self.fail("%s exited by itself with code %s after %.2f s, before SIGTERM\n"
                      "  stdout: %r\n  stderr: %r"
                      % (" ".join(command), process.returncode, time.monotonic() - started,
                         stdout[-2000:], stderr[-3000:]))
        self.assertTrue(ok, "OTLP spans from %s within %.0f s" % (" ".join(command),
                                                                  DATA_TIMEOUT))

    def stop(self, command, process, started):
        """SIGTERM; returns the DemoRun once it exits (fails if it takes over STOP_SECONDS)."""
        process.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        try:
            stdout, stderr = process.communicate(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            self.fail("%s still running %.0f s after SIGTERM\n  stdout: %r"
                      % (" ".join(command), STOP_SECONDS, stdout[-2000:]))
        self.assertLess(time.monotonic() - stopped, STOP_SECONDS)
        return DemoRun(command, process.returncode, stdout, stderr, time.monotonic() - started)


class DemoStopSignal(SigtermLast, RunUntilSignal):

    def test_sigterm_ends_an_endless_run_with_everything_sent(self):
        command, process, started = self.start_demo("--rate", 20, "--seed", 5)  # --duration 0
        self.wait_sending(command, process, started)
        run = self.stop(command, process, started)
        sent = self.assert_ran(run, 20)
        self.assertEqual(0, sent["failed"], run.describe())
        self.assertGreaterEqual(sent["traces"], 10, "over a second at 20/s: " + run.describe())
        # Traces still in progress at SIGTERM go out on the way out: the server gets them all.
        self.wait_for_metrics({UDP_SEGMENTS: sent["segments"], OTLP_SPANS: sent["otlp_spans"],
                               OTLP_REQUESTS: sent["otlp_requests"],
                               STORE_TRACES: sent["traces"]})


# --------------------------------------------------------------------------------------------
# 4. --api-key


class DemoApiKey(SigtermLast, DemoTestCase):

    KEY = "hcaik_e2e_demo_key"
    waggle_args = ("--api-keys", "%s=prod" % KEY)

    def test_right_key_is_let_in_wrong_key_is_refused_and_reported(self):
        before = self.metrics()
        run = run_demo(*targets(self.waggle), "--rate", 20, "--duration", SHORT_SECONDS,
                       "--seed", 11, "--api-key", self.KEY)
        good = self.assert_ran(run, 20, SHORT_SECONDS)
        self.assertEqual(0, good["failed"], run.describe())
        self.assertGreater(good["otlp_spans"], 0, run.describe())
        self.wait_for_metrics({
            OTLP_SPANS: self.metric(OTLP_SPANS, before) + good["otlp_spans"],
            OTLP_UNAUTHENTICATED: self.metric(OTLP_UNAUTHENTICATED, before),
            UDP_SEGMENTS: self.metric(UDP_SEGMENTS, before) + good["segments"]})

        before = self.metrics()
        run = run_demo(*targets(self.waggle), "--rate", 20, "--duration", SHORT_SECONDS,
                       "--seed", 12, "--api-key", "hcaik_e2e_wrong_key")
        bad = self.assert_ran(run, 20, SHORT_SECONDS)
        self.assertEqual((0, 0), (bad["otlp_spans"], bad["otlp_requests"]), run.describe())
        self.assertGreater(bad["failed"], 0, run.describe())
        self.assertEqual("%s:%d answered HTTP/1.1 401 Unauthorized"
                         % (h.LOOPBACK, self.waggle.otlp_http_port), bad["last_error"])
        self.wait_for_metrics({
            OTLP_SPANS: self.metric(OTLP_SPANS, before),
            OTLP_UNAUTHENTICATED: self.metric(OTLP_UNAUTHENTICATED, before) + bad["failed"],
            UDP_SEGMENTS: self.metric(UDP_SEGMENTS, before) + bad["segments"]})


# --------------------------------------------------------------------------------------------
# 5. Nobody on the OTLP address


class DemoOtlpDown(SigtermLast, DemoTestCase):

    def test_refused_otlp_is_counted_and_reported_xray_still_lands(self):
        dead = "%s:%d" % (h.LOOPBACK, h.free_port())  # nothing listens there
        run = run_demo(*targets(self.waggle, otlp_http=dead), "--rate", 20,
                       "--duration", SHORT_SECONDS, "--seed", 13)
        sent = self.assert_ran(run, 20, SHORT_SECONDS, otlp_http=dead)
        self.assertEqual((0, 0), (sent["otlp_spans"], sent["otlp_requests"]), run.describe())
        self.assertGreater(sent["failed"], 0, "each failed OTLP request is counted: "
                           + run.describe())
        self.assertEqual("connect to %s: Connection refused" % dead, sent["last_error"])
        self.assertGreater(sent["segments"], 0)
        self.wait_for_metrics({UDP_SEGMENTS: sent["segments"], STORE_TRACES: sent["traces"],
                               OTLP_REQUESTS: 0})


# --------------------------------------------------------------------------------------------
# 6. Bad flag values


class DemoBadFlags(SigtermLast, DemoTestCase):

    def test_bad_values_fail_fast_with_one_clear_line_and_send_nothing(self):
        otlp = "%s:%d" % (h.LOOPBACK, self.waggle.otlp_http_port)
        udp = "%s:%d" % self.waggle.xray_udp_address
        rate_message = "waggle demo: --rate must be above 0 and at most 10000 traces/s"
        duration_message = "waggle demo: --duration must be 0 (until Ctrl-C) or a number of seconds"
        cases = [  # (flags replacing the good ones, the one stderr line)
            ({"--rate": "0"}, rate_message),
            ({"--rate": "-5"}, rate_message),
            ({"--rate": "10001"}, rate_message),
            ({"--rate": "nan"}, rate_message),
            ({"--duration": "-1"}, duration_message),
            ({"--duration": "inf"}, duration_message),
            ({"--otlp-http": "nonsense"},
             "waggle demo: --otlp-http address 'nonsense' is not host:port"),
            ({"--otlp-http": "127.0.0.1:"},
             "waggle demo: --otlp-http address '127.0.0.1:' has a bad port"),
            ({"--otlp-http": "127.0.0.1:70000"},
             "waggle demo: --otlp-http address '127.0.0.1:70000' has a bad port"),
            ({"--otlp-http": "127.0.0.1:0"},
             "waggle demo: --otlp-http 127.0.0.1:0: a port is needed"),
            ({"--xray-udp": "example.com:2000"},
             "waggle demo: --xray-udp address 'example.com:2000' needs an IP address (or "
             "localhost) before the port"),
            ({"--api-key": "two\nlines"}, "waggle demo: --api-key must be one line"),
        ]
        before = self.metrics()
        for overrides, message in cases:
            flags = {"--xray-udp": udp, "--otlp-http": otlp, "--rate": "20", "--duration": "1",
                     "--seed": "1", **overrides}
            args = [x for kv in flags.items() for x in kv]
            with self.subTest(flags=overrides):
                run = run_demo(*args, timeout=BAD_FLAG_SECONDS * 4)
                self.assertNotEqual(0, run.returncode, run.describe())
                self.assertLess(run.elapsed, BAD_FLAG_SECONDS, run.describe())
                self.assertEqual("", run.stdout, "no banner, nothing sent: " + run.describe())
                self.assertEqual([message], run.stderr.splitlines(), run.describe())

        # Values the command line parser refuses: its message names the flag.
        for args, parts in ((["--rate", "abc"], ["--rate", "abc"]),
                            (["--duration", "soon"], ["--duration", "soon"]),
                            (["--no-such-flag", "1"], ["--no-such-flag"])):
            with self.subTest(args=args):
                run = run_demo("--xray-udp", udp, "--otlp-http", otlp, *args,
                               timeout=BAD_FLAG_SECONDS * 4)
                self.assertNotEqual(0, run.returncode, run.describe())
                self.assertLess(run.elapsed, BAD_FLAG_SECONDS, run.describe())
                self.assertEqual("", run.stdout, run.describe())
                first = (run.stderr.splitlines() or [""])[0]
                for part in parts:
                    self.assertIn(part, first, run.describe())

        after = self.metrics()
        for name in (UDP_DATAGRAMS, OTLP_REQUESTS, STORE_TRACES):
            self.assertEqual(self.metric(name, before), self.metric(name, after),
                             "%s: the refused runs sent nothing" % name)


# --------------------------------------------------------------------------------------------
# 7. Values the flags accept but demo mishandles


class DemoExtremeFlagValues(SigtermLast, RunUntilSignal):

    def test_tiny_rate_sends_about_one_trace(self):
        """--rate accepts any value above 0 (DemoOptions::Validate). At 1e-20 traces/s the
        first trace starts at once and the next one ~3e12 years later, so a short run sends
        one trace. Generator::NextTrace (src/workload/generator.cc) computes the gap as
        llround(Exponential(1e6 / rate)) microseconds: about 1e26, past int64, so llround
        returns LLONG_MIN, max(1, ...) makes it 1 µs, and demo generates a trace for every
        microsecond it has been running (thousands, with ~0.5 GB for a 0.3 s run, and a run
        of 1 s overshoots to ~4.5 s and ~1.1 GB). demo's own count tells, so the flood goes
        to addresses nobody listens on rather than into the server; a run still going 5 s
        into its 0.1 s is killed (and fails the test too)."""
        nowhere = "%s:%d" % (h.LOOPBACK, h.free_port())
        run = run_demo("--xray-udp", nowhere, "--otlp-http", nowhere, "--rate", "1e-20",
                       "--duration", "0.1", "--seed", 17, timeout=5)
        done = run.done()
        self.assertIsNotNone(done, run.describe())
        self.assertLessEqual(done["traces"], 2, "--rate 1e-20 for 0.1 s: " + run.describe())

    def test_huge_duration_runs_until_sigterm(self):
        """--duration accepts any finite number of seconds (DemoOptions::Validate), and 1e10 s
        (317 years) is in effect "until Ctrl-C". RunDemo (src/server/demo.cc, the deadline)
        converts duration_seconds * 1e9 to int64_t: 1e19 is out of range (undefined
        behaviour; the sanitizer build aborts there, others get a deadline in the past and
        exit at once with nothing sent). Durations above ~7.5e9 s also overflow
        `started + ...`."""
        command, process, started = self.start_demo("--rate", 20, "--seed", 19,
                                                     "--duration", "1e10")
        self.wait_sending(command, process, started, min_seconds=1.5)
        run = self.stop(command, process, started)
        sent = self.assert_ran(run, 20, seconds=1e10)
        self.assertGreater(sent["traces"], 0, run.describe())


if __name__ == "__main__":
    h.main(sys.modules[__name__])
