#!/usr/bin/python3
"""End-to-end: real OpenTelemetry and Honeycomb clients against a real `waggle serve`.

    /usr/bin/python3 test/e2e/otlp_test.py --waggle build/waggle [unittest args, e.g. -v]
    (or WAGGLE_BIN=build/waggle /usr/bin/python3 -m unittest test/e2e/otlp_test.py)

Clients (test/e2e/node, installed by scripts/install-deps with `npm ci`):
  send_spans.js      OpenTelemetry JS SDK 2.x with the OTLP trace exporters http/json,
                     http/protobuf and grpc, ids from the AWS X-Ray id generator
  send_logs.js       the OpenTelemetry JS logs SDK with the OTLP/HTTP logs exporter
  libhoney_send.js   libhoney-js, Honeycomb's Events API client (/1/batch)
MessagePack batches are laid out as libhoney-go writes them (there is no Go client on these
machines), encoded by Debian's python3-msgpack and compressed by the zstd command.
  mixed_service.js   a Node HTTP service with instrumentation-http and the AWS X-Ray propagator,
                     called by apps/xray_calls_node_app.py (Flask + Debian's aws-xray-sdk)
Everything is read back with Debian's AWS CLI through the X-Ray API (BatchGetTraces,
GetTraceSummaries), where each OTel span is its own segment document (spec/otlp.md §9.3), and
raw HTTP checks use urllib. The expectations come from what the clients report they sent.

Each test class starts its own server on free ports in its own temp dir (WAGGLE_E2E_KEEP=1
keeps it). Nothing is skipped: without node or node_modules every class fails and says to run
scripts/install-deps.
"""

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

FLASK_APP = Path(__file__).resolve().parent / "apps" / "xray_calls_node_app.py"
DATA_TIMEOUT = 10.0  # seconds accepted data gets to become visible through the X-Ray API
TIME_TOLERANCE = 1e-5  # seconds; span times are exact to the millisecond or better
TEAM = "e2e-ingest-key"  # x-honeycomb-team when the server has no --api-keys (any key is fine)

# /metrics counters (plain Prometheus text; any labels are summed).
SPANS_ACCEPTED = "waggle_otlp_spans_accepted_total"
SPANS_REJECTED = "waggle_otlp_spans_rejected_total"
LOG_RECORDS_ACCEPTED = "waggle_otlp_log_records_accepted_total"
EVENTS_ACCEPTED = "waggle_honeycomb_events_accepted_total"
REQUESTS_UNAUTHENTICATED = "waggle_otlp_requests_unauthenticated_total"
REQUESTS_MALFORMED = "waggle_otlp_requests_malformed_total"
TEXT_REPAIRS = "waggle_otlp_text_repairs_total"
REQUESTS_TOO_LARGE = "waggle_otlp_requests_too_large_total"

# The X-Ray exporter's SQL database systems (spec/otlp.md §9.3 "sql").
SQL_SYSTEMS = {"db2", "derby", "hive", "mariadb", "mssql", "mysql", "oracle", "postgresql",
               "sqlite", "teradata", "other_sql"}

WAGGLE_BIN = None  # set by h.main() from --waggle / $WAGGLE_BIN, or from $WAGGLE_BIN on import


# --------------------------------------------------------------------------------------------
# Ids and small encoders


def pb_fields(data):
    """[(field number, wire type, value)] of one protobuf message; ValueError if malformed.
    Varints come back as ints, length-delimited fields as bytes."""
    fields, i = [], 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            if i >= len(data) or shift > 63:
                raise ValueError("truncated varint at byte %d" % i)
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while i < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            fields.append((field, wire, varint()))
        elif wire == 1:
            fields.append((field, wire, data[i:i + 8]))
            i += 8
        elif wire == 2:
            n = varint()
            if i + n > len(data):
                raise ValueError("field %d: %d bytes announced, %d left"
                                 % (field, n, len(data) - i))
            fields.append((field, wire, data[i:i + n]))
            i += n
        elif wire == 5:
            fields.append((field, wire, data[i:i + 4]))
            i += 4
        else:
            raise ValueError("wire type %d at byte %d" % (wire, i))
    if i != len(data):
        raise ValueError("message runs past its end")
    return fields


def decode_status(content_type, body):
    """A google.rpc.Status body (protobuf or JSON, per `content_type`) as {code, message}."""
    if "json" in content_type:
        status = json.loads(body)
        if not isinstance(status, dict):
            raise ValueError("a JSON Status is an object, got %r" % (status,))
        return {"code": status.get("code"), "message": status.get("message")}
    out = {"code": None, "message": None}
    for field, wire, value in pb_fields(body):
        if field == 1 and wire == 0:
            out["code"] = value
        elif field == 2 and wire == 2:
            out["message"] = value.decode("utf-8")
    return out


def zstd_compress(data):
    """zstd via /usr/bin/zstd (Debian package zstd; Python 3.11 has no zstd module)."""
    zstd = shutil.which("zstd") or "/usr/bin/zstd"
    return subprocess.run([zstd, "-q", "-c"], input=data, capture_output=True, check=True).stdout


# --------------------------------------------------------------------------------------------
# OTel span -> expected X-Ray segment document (spec/otlp.md §9.3)


def is_segment(span):
    """SERVER spans and spans without a parent become segments; the rest subsegments."""
    return span["kind"] == "SERVER" or not span.get("parent_span_id")


def expected_name(span):
    """§9.3 name precedence, for the attributes these tests send."""
    a, kind = span["attributes"], span["kind"]
    if kind == "SERVER" and a.get("aws.local.service"):
        return a["aws.local.service"]
    if kind in ("CLIENT", "PRODUCER", "CONSUMER") and a.get("aws.remote.service"):
        return a["aws.remote.service"]
    for key in ("peer.service", "aws.service", "db.name"):
        if a.get(key):
            return a[key]
    if kind == "SERVER" and span["resource"].get("service.name"):
        return span["resource"]["service.name"]
    for key in ("rpc.service", "http.host", "net.peer.name"):
        if a.get(key):
            return a[key]
    return span["name"]


def expected_flags(span):
    """(fault, error, throttle) from the HTTP status code, else fault = status ERROR."""
    a = span["attributes"]
    code = a.get("http.response.status_code", a.get("http.status_code"))
    if isinstance(code, int) and 400 <= code <= 499:
        return False, True, code == 429
    if isinstance(code, int) and 500 <= code <= 599:
        return True, False, False
    return span["status"]["code"] == "ERROR", False, False


def expected_url(span):
    """url.full, else scheme://host[:port]path[?query] (default port left out); None if the
    span has too little to build one."""
    a = span["attributes"]
    if a.get("url.full") or a.get("http.url"):
        return a.get("url.full") or a.get("http.url")
    scheme, host = a.get("url.scheme"), a.get("server.address")
    if not (scheme and host):
        return None
    port = a.get("server.port")
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        host = "%s:%s" % (host, port)
    url = "%s://%s%s" % (scheme, host, a.get("url.path", ""))
    return url + "?" + a["url.query"] if a.get("url.query") else url


def returned_entities(trace):
    """id -> [(entity, enclosing entity id or None)] over every document of `trace`."""
    out = {}
    for segment in trace.get("Segments", []):
        for entity, enclosing in h.walk_entities(segment["Doc"]):
            out.setdefault(entity.get("id"), []).append(
                (entity, enclosing["id"] if enclosing else None))
    return out


def span_problems(span, entity, enclosing, full=True):
    """What is wrong in the document `entity` returned for OTel `span` ([] if nothing).

    Always checked: its own document, trace_id, segment or subsegment, parent_id, name, times.
    With `full`, also the rest of §9.3: fault/error/throttle, http, namespace, sql, cause, links.
    """
    problems = []
    a = span["attributes"]

    def check(what, got, want):
        if got != want:
            problems.append("%s: got %r, expected %r" % (what, got, want))

    def near(what, got, want):
        if not isinstance(got, (int, float)) or abs(got - want) > TIME_TOLERANCE:
            problems.append("%s: got %r, expected %r" % (what, got, want))

    if enclosing is not None:
        problems.append("nested inside %s instead of being its own document" % enclosing)
    check("trace_id", entity.get("trace_id"), h.xray_trace_id(span["trace_id"]))
    if is_segment(span):
        if entity.get("type") == "subsegment":
            problems.append('a %s span without a local parent must be a segment, got '
                            '"type": "subsegment"' % span["kind"])
        check("parent_id", entity.get("parent_id"), span.get("parent_span_id") or None)
    else:
        check("type", entity.get("type"), "subsegment")
        check("parent_id", entity.get("parent_id"), span["parent_span_id"])
    check("name", entity.get("name"), expected_name(span))
    near("start_time", entity.get("start_time"), span["start_time"])
    near("end_time", entity.get("end_time"), span["end_time"])
    if not full:
        return problems

    fault, error, throttle = expected_flags(span)
    check("fault", bool(entity.get("fault")), fault)
    check("error", bool(entity.get("error")), error)
    check("throttle", bool(entity.get("throttle")), throttle)

    method = a.get("http.request.method", a.get("http.method"))
    if method:
        http = entity.get("http") or {}
        request, response = http.get("request") or {}, http.get("response") or {}
        check("http.request.method", request.get("method"), method)
        url = expected_url(span)
        if url:
            check("http.request.url", request.get("url"), url)
        status = a.get("http.response.status_code", a.get("http.status_code"))
        if status is not None:
            check("http.response.status", response.get("status"), status)
        if span["kind"] == "SERVER":
            if a.get("user_agent.original"):
                check("http.request.user_agent", request.get("user_agent"),
                      a["user_agent.original"])
            if a.get("client.address"):
                check("http.request.client_ip", request.get("client_ip"), a["client.address"])
    if span["kind"] == "CLIENT" and not a.get("aws.service"):
        check("namespace", entity.get("namespace"), "remote")

    if a.get("db.system") in SQL_SYSTEMS:
        sql = entity.get("sql") or {}
        check("sql.database_type", sql.get("database_type"), a["db.system"])
        if a.get("db.statement"):
            check("sql.sanitized_query", sql.get("sanitized_query"), a["db.statement"])
        if a.get("db.user"):
            check("sql.user", sql.get("user"), a["db.user"])

    for event in span["events"]:
        if event["name"] != "exception":
            continue
        cause = entity.get("cause")
        exceptions = cause.get("exceptions", []) if isinstance(cause, dict) else []
        want = (event["attributes"].get("exception.type"),
                event["attributes"].get("exception.message"))
        if not any((e.get("type"), e.get("message")) == want for e in exceptions):
            problems.append("cause.exceptions: no exception with type %r and message %r in %s"
                            % (want[0], want[1], json.dumps(cause)[:300]))
    for link in span["links"]:
        links = entity.get("links") or []
        want = (h.xray_trace_id(link["trace_id"]), link["span_id"])
        if not any((l.get("trace_id"), l.get("id")) == want for l in links):
            problems.append("links: no link to %s/%s in %s" % (want[0], want[1],
                                                                json.dumps(links)[:300]))
    return problems


def trace_problems(spans, trace, others=(), full=True):
    """Everything wrong with BatchGetTraces' `trace` given the OTel `spans` sent in it.

    Every span is one document (its own, not nested) checked by span_problems(full); nothing
    else is in the trace except the entity ids in `others` and documents marked inferred.
    """
    if trace is None:
        return ["trace not returned by BatchGetTraces"]
    problems = []
    returned = returned_entities(trace)
    sent = {s["span_id"]: s for s in spans}
    for entity_id, copies in returned.items():
        if len(copies) > 1:
            problems.append("%s (%s) returned %d times"
                            % (entity_id, copies[0][0].get("name"), len(copies)))
        if entity_id not in sent and entity_id not in others and not copies[0][0].get("inferred"):
            problems.append("%s (%s) returned but never sent"
                            % (entity_id, copies[0][0].get("name")))
    for span in spans:
        label = "%s span %s (%s)" % (span["kind"], span["span_id"], span["name"])
        if span["span_id"] not in returned:
            problems.append("%s: missing" % label)
            continue
        entity, enclosing = returned[span["span_id"]][0]
        problems.extend("%s: %s" % (label, p)
                        for p in span_problems(span, entity, enclosing, full))
    return problems


def summary_problems(summary, spans):
    """What is wrong in a TraceSummary of a trace made of OTel `spans` only."""
    roots = [s for s in spans if not s.get("parent_span_id")]
    if len(roots) != 1:
        return ["the test expects one root span, the client sent %d" % len(roots)]
    root, problems = roots[0], []
    a = root["attributes"]

    def check(what, got, want, tolerance=None):
        ok = (isinstance(got, (int, float)) and abs(got - want) <= tolerance
              if tolerance is not None else got == want)
        if not ok:
            problems.append("%s: got %r, expected %r" % (what, got, want))

    fault, error, _ = expected_flags(root)
    check("HasFault", summary.get("HasFault"), fault)
    check("HasError", summary.get("HasError"), error)
    check("ResponseTime", summary.get("ResponseTime"), root["end_time"] - root["start_time"],
          tolerance=1e-3)
    check("Duration", summary.get("Duration"),
          max(s["end_time"] for s in spans) - min(s["start_time"] for s in spans),
          tolerance=1e-3)
    http = summary.get("Http", {})
    check("Http.HttpMethod", http.get("HttpMethod"), a.get("http.request.method"))
    check("Http.HttpStatus", http.get("HttpStatus"), a.get("http.response.status_code"))
    check("Http.HttpURL", http.get("HttpURL"), expected_url(root))
    names = {s.get("Name") for s in summary.get("ServiceIds", [])}
    if expected_name(root) not in names:
        problems.append("ServiceIds %s lack the root's service %r"
                        % (sorted(names), expected_name(root)))
    return problems


# --------------------------------------------------------------------------------------------


class OtlpServerTestCase(h.ServerTestCase):
    """One `waggle serve` with OTLP listeners for the class; subclasses add `waggle_args`."""

    workdir_prefix = "waggle-e2e-otlp-"
    otlp = True

    @classmethod
    def setUpClass(cls):
        h.require_node_clients()
        if not h.waggle_supports_otlp(cls.binary()):
            raise AssertionError("%s serve --help lists no --otlp-http: this binary has no OTLP "
                                 "receiver" % cls.binary())
        super().setUpClass()

    # ---- clients

    def node(self, script, args, expect_ok=True):
        """Runs a Node client; with expect_ok, fails unless it exited 0 and printed its JSON."""
        run = h.run_node(script, args)
        if run.output is None:
            self.fail("%s printed no JSON result\n%s\n%s"
                      % (script, run.describe(), self.waggle.log_tail(30)))
        if expect_ok and run.returncode != 0:
            self.fail("%s failed\n%s\n%s" % (script, run.describe(), self.waggle.log_tail(30)))
        return run

    def send_spans(self, protocol, use_gzip=False, team=TEAM, service="checkout-node",
                   expect_ok=True, extra=()):
        """send_spans.js with one exporter; returns the NodeRun (output = what it sent)."""
        endpoint = self.waggle.otlp_grpc_url if protocol == "grpc" else self.waggle.otlp_http_url
        args = ["--protocol", protocol, "--endpoint", endpoint, "--service", service]
        if use_gzip:
            args.append("--gzip")
        if team is not None:
            args += ["--team", team]
        run = self.node("send_spans.js", args + list(extra), expect_ok=expect_ok)
        if expect_ok:
            self.assertEqual(4, len(run.output["spans"]), "the client exported all four spans")
        return run

    def post(self, path, body, content_type, headers=None, encoding=None):
        """POSTs to the OTLP/HTTP listener; `encoding` gzip|zstd compresses the body."""
        all_headers = {"Content-Type": content_type}
        if encoding == "gzip":
            body = gzip.compress(body)
        elif encoding == "zstd":
            body = zstd_compress(body)
        if encoding:
            all_headers["Content-Encoding"] = encoding
        all_headers.update(headers or {})
        return h.http_request("POST", self.waggle.otlp_http_url + path, body, all_headers)

    # ---- reading back

    def read_trace(self, trace_id, problems_of):
        """BatchGetTraces of one X-Ray trace id, polled until problems_of(trace) is empty or
        DATA_TIMEOUT passes; returns (trace or None, problems) of the last read."""
        def probe():
            traces, _ = h.batch_get_traces(self.aws, [trace_id])
            trace = traces.get(trace_id)
            problems = problems_of(trace)
            return not problems, (trace, problems)

        return h.wait_until(probe, DATA_TIMEOUT, interval=0.5)[1]

    def assert_trace(self, spans, others=(), what="BatchGetTraces", full=True):
        """Reads the trace of `spans` back and fails listing every problem found (full: the
        whole §9.3 mapping; else ids, parents, names and times, see span_problems)."""
        trace_id = h.xray_trace_id(spans[0]["trace_id"])
        trace, problems = self.read_trace(trace_id,
                                          lambda t: trace_problems(spans, t, others, full))
        self.assert_no_problems(problems, "%s %s" % (what, trace_id), trace)
        return trace

    def read_summary(self, trace_id):
        """GetTraceSummaries around the trace id's epoch, polled until it lists `trace_id`."""
        epoch = int(trace_id.split("-")[1], 16)

        def probe():
            reply = self.aws("xray", "get-trace-summaries", "--start-time", epoch - 1,
                             "--end-time", epoch + 2)
            by_id = {s["Id"]: s for s in reply.get("TraceSummaries", [])}
            return trace_id in by_id, by_id.get(trace_id)

        ok, summary = h.wait_until(probe, DATA_TIMEOUT, interval=0.5)
        self.assertTrue(ok, "GetTraceSummaries [%d, %d) does not list %s within %.0f s\n%s"
                        % (epoch - 1, epoch + 2, trace_id, DATA_TIMEOUT,
                           self.waggle.log_tail(30)))
        return summary

    def assert_no_problems(self, problems, what, trace=None):
        if problems:
            documents = ""
            if trace is not None:
                documents = "\nreturned documents:\n" + "\n".join(
                    json.dumps(s["Doc"], sort_keys=True)[:1500] for s in trace.get("Segments", []))
            self.fail("%s (%d problems):\n  %s%s\n%s"
                      % (what, len(problems), "\n  ".join(problems), documents,
                         self.waggle.log_tail(30)))

    def assert_trace_absent(self, hex_trace_id):
        traces, _ = h.batch_get_traces(self.aws, [h.xray_trace_id(hex_trace_id)])
        self.assertEqual({}, traces, "a rejected request's trace must not be stored")

    # ---- metrics

    def metric(self, name):
        return h.metric_total(h.read_metrics(self.waggle.http_url), name) or 0

    def assert_metric_grows(self, name, before, by):
        """Waits until counter `name` (summed over labels) is at least `before + by`."""
        def probe():
            metrics = h.read_metrics(self.waggle.http_url)
            now = h.metric_total(metrics, name)
            return now is not None and now >= before + by, (now, metrics)

        ok, (now, metrics) = h.wait_until(probe, DATA_TIMEOUT)
        if not ok:
            family = name.split("_")[1]  # otlp, honeycomb
            related = {k: v for k, v in metrics.items() if k.split("_")[1:2] == [family]}
            self.fail("%s: %s, expected at least %s + %s\nrelated series: %s"
                      % (name, "absent" if now is None else now, before, by,
                         json.dumps(related, indent=1, sort_keys=True)))


# --------------------------------------------------------------------------------------------


class OtelJsExporters(OtlpServerTestCase):
    """The three OpenTelemetry JS trace exporters, plain and gzip, read back through X-Ray."""

    def check_exporter(self, protocol, use_gzip):
        before = self.metric(SPANS_ACCEPTED)
        run = self.send_spans(protocol, use_gzip=use_gzip,
                              service="checkout-" + protocol.replace("/", "-"))
        spans = run.output["spans"]
        self.assertEqual(1, len(run.output["export_result"]["exports"]),
                         "the batch processor sends the trace in one request")
        self.assert_trace(spans)
        summary = self.read_summary(run.output["xray_trace_id"])
        self.assert_no_problems(summary_problems(summary, spans),
                                "TraceSummary of %s" % run.output["xray_trace_id"])
        self.assert_metric_grows(SPANS_ACCEPTED, before, len(spans))

    def test_http_json_spans_come_back_as_segment_documents(self):
        self.check_exporter("http/json", use_gzip=False)

    def test_http_json_gzip_spans_come_back_as_segment_documents(self):
        self.check_exporter("http/json", use_gzip=True)

    def test_http_protobuf_spans_come_back_as_segment_documents(self):
        self.check_exporter("http/protobuf", use_gzip=False)

    def test_http_protobuf_gzip_spans_come_back_as_segment_documents(self):
        self.check_exporter("http/protobuf", use_gzip=True)

    def test_grpc_spans_come_back_as_segment_documents(self):
        self.check_exporter("grpc", use_gzip=False)

    def test_grpc_gzip_spans_come_back_as_segment_documents(self):
        self.check_exporter("grpc", use_gzip=True)

    def check_cut_text(self, protocol, repairs):
        """send_spans.js --cut-text: the root span's comment.cut is 'thumbs ' and a lone high
        surrogate. The JSON exporter sends it as the escape \\ud83d, which a strict parser
        refuses with the whole batch; the protobuf encoder sends U+FFFD itself. Either way the
        trace must be stored whole, with U+FFFD for the lone half, and the export succeed."""
        before = self.metric(TEXT_REPAIRS)
        run = self.send_spans(protocol, service="cut-" + protocol.replace("/", "-"),
                              extra=["--cut-text"])
        want_ids = set(run.output["span_ids"])

        def problems_of(trace):
            if trace is None:
                return ["the trace is not stored"]
            got_ids, text = set(), ""
            for segment in trace["Segments"]:
                got_ids.update(e["id"] for e, _ in h.walk_entities(segment["Doc"]))
                text += json.dumps(segment["Doc"], ensure_ascii=False)
            problems = []
            if want_ids - got_ids:
                problems.append("spans missing: %s" % sorted(want_ids - got_ids))
            if "thumbs \ufffd" not in text:
                problems.append("no comment.cut of 'thumbs \\ufffd' in the documents")
            return problems

        trace, problems = self.read_trace(run.output["xray_trace_id"], problems_of)
        self.assert_no_problems(problems, "BatchGetTraces %s" % run.output["xray_trace_id"], trace)
        if repairs:
            self.assert_metric_grows(TEXT_REPAIRS, before, repairs)
        else:
            self.assertEqual(before, self.metric(TEXT_REPAIRS))

    def test_http_json_string_cut_through_a_surrogate_pair_keeps_the_batch(self):
        self.check_cut_text("http/json", repairs=1)

    def test_http_protobuf_string_cut_through_a_surrogate_pair_keeps_the_batch(self):
        self.check_cut_text("http/protobuf", repairs=0)

    def test_no_key_is_needed_when_no_api_keys_are_configured(self):
        for protocol in ("http/protobuf", "grpc"):
            with self.subTest(protocol=protocol):
                run = self.send_spans(protocol, team=None)
                self.assert_trace(run.output["spans"], full=False)


class ApiKeys(OtlpServerTestCase):
    """--api-keys: a known x-honeycomb-team key is let in, anything else gets 401 /
    UNAUTHENTICATED, and nothing of a refused request is stored."""

    GOOD, OTHER, BAD = "hcaik_e2e_good_key", "hcaik_e2e_other_key", "hcaik_e2e_unknown"
    # The AWS CLI signs with test/test; that key reads environment prod, where GOOD writes.
    waggle_args = ("--api-keys", "%s=prod,%s=staging" % (GOOD, OTHER),
                   "--aws-credentials", "test:test:prod")

    def test_a_known_key_is_accepted_by_every_exporter(self):
        for protocol in ("http/json", "http/protobuf", "grpc"):
            with self.subTest(protocol=protocol):
                run = self.send_spans(protocol, team=self.GOOD)
                self.assert_trace(run.output["spans"], full=False)

    def test_exporters_with_an_unknown_or_no_key_fail_unauthenticated(self):
        refused = []
        for protocol in ("http/json", "http/protobuf", "grpc"):
            for team in (self.BAD, None):
                with self.subTest(protocol=protocol, team=team):
                    run = self.send_spans(protocol, team=team, expect_ok=False)
                    self.assertNotEqual(0, run.returncode, run.describe())
                    exports = run.output["export_result"]["exports"]
                    self.assertTrue(exports, run.describe())
                    error = exports[-1].get("error") or {}
                    want = 16 if protocol == "grpc" else 401  # UNAUTHENTICATED / HTTP 401
                    self.assertEqual(want, error.get("code"), run.describe())
                    refused.append(run.output["trace_id"])
        # A good request afterwards is stored; the refused ones are not.
        self.assert_trace(self.send_spans("http/protobuf", team=self.GOOD).output["spans"],
                          full=False)
        for trace_id in refused:
            self.assert_trace_absent(trace_id)

    def test_raw_request_with_an_unknown_key_gets_401_and_a_status_body(self):
        before = self.metric(REQUESTS_UNAUTHENTICATED)
        trace_id, span_id = h.new_otel_trace_id(), h.new_span_id()
        now = time.time_ns()
        spans = [{"trace_id": trace_id, "span_id": span_id, "name": "raw", "kind": 2,
                  "start_ns": now - 10**6, "end_ns": now}]
        json_body = json.dumps(json_request("raw-keys", [json_span(
            traceId=trace_id, spanId=span_id, name="raw", kind=2,
            startTimeUnixNano=str(now - 10**6), endTimeUnixNano=str(now))])).encode()
        cases = [("application/json", json_body),
                 ("application/x-protobuf", h.pb_trace_request("raw-keys", spans))]
        for content_type, body in cases:
            for headers in ({"x-honeycomb-team": self.BAD}, {}):
                with self.subTest(content_type=content_type, headers=headers):
                    status, response_headers, response = self.post(
                        "/v1/traces", body, content_type, headers)
                    self.assertEqual(401, status, response[:300])
                    self.assertIn(content_type, response_headers.get("Content-Type", ""),
                                  "the Status is encoded like the request")
                    decoded = decode_status(content_type, response)
                    self.assertTrue(decoded["message"], "Status.message: %r" % (decoded,))
        self.assert_metric_grows(REQUESTS_UNAUTHENTICATED, before, 4)
        status, _, response = self.post("/v1/traces", json_body, "application/json",
                                         {"x-honeycomb-team": self.GOOD})
        self.assertEqual(200, status, response[:300])

    def test_events_api_needs_a_known_key(self):
        run = self.node("libhoney_send.js",
                        ["--api-host", self.waggle.otlp_http_url, "--dataset", "keys-events",
                         "--write-key", self.BAD], expect_ok=False)
        self.assertNotEqual(0, run.returncode, run.describe())
        self.assertEqual({401}, {r["status_code"] for r in run.output["responses"]},
                         run.describe())
        run = self.node("libhoney_send.js",
                        ["--api-host", self.waggle.otlp_http_url, "--dataset", "keys-events",
                         "--write-key", self.GOOD])
        self.assertEqual({202}, {r["status_code"] for r in run.output["responses"]})

    def test_auth_names_the_environment_of_a_key_as_honeycombs_docs_check_it(self):
        # Honeycomb's docs check a key with exactly this curl; the Terraform provider reads the
        # same answer (environment and team slugs, api_key_access).
        def auth(key):
            run = subprocess.run(
                ["/usr/bin/curl", "-sS", "-w", "\n%{http_code}", "-H",
                 "X-Honeycomb-Team: " + key, self.waggle.otlp_http_url + "/1/auth"],
                capture_output=True, text=True, timeout=30)
            self.assertEqual(0, run.returncode, run.stderr)
            body, _, code = run.stdout.rpartition("\n")
            return int(code), json.loads(body)

        code, answer = auth(self.GOOD)
        self.assertEqual(200, code, answer)
        self.assertEqual({"name": "prod", "slug": "prod"}, answer["environment"])
        self.assertTrue(answer["api_key_access"]["events"], answer)
        code, answer = auth(self.OTHER)
        self.assertEqual(200, code, answer)
        self.assertEqual("staging", answer["environment"]["slug"])
        before = self.metric(REQUESTS_UNAUTHENTICATED)
        code, answer = auth(self.BAD)
        self.assertEqual(401, code, answer)
        self.assertEqual("unknown API key - check your credentials", answer["error"])
        self.assert_metric_grows(REQUESTS_UNAUTHENTICATED, before, 1)

    def test_logs_need_a_known_key(self):
        run = self.node("send_logs.js", ["--endpoint", self.waggle.otlp_http_url,
                                         "--team", self.BAD], expect_ok=False)
        self.assertNotEqual(0, run.returncode, run.describe())
        self.assertEqual(401, (run.output["export_result"]["exports"][-1].get("error") or {})
                         .get("code"), run.describe())
        self.node("send_logs.js", ["--endpoint", self.waggle.otlp_http_url, "--team", self.GOOD])


def json_span(**fields):
    """An OTLP/JSON span object: the keyword arguments as its fields (camelCase names)."""
    return fields


def json_request(service, spans):
    """An OTLP/JSON ExportTraceServiceRequest with one resource and one scope."""
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "waggle-e2e-raw"}, "spans": spans}],
    }]}


class RawOtlpHttp(OtlpServerTestCase):
    """OTLP/HTTP edge cases with urllib (spec/otlp.md §2): status codes, Status bodies, limits,
    lenient JSON, partial success, content-type and encoding variants."""

    MAX_BODY = 64 * 1024
    waggle_args = ("--otlp-max-body-bytes", str(MAX_BODY))

    def assert_status_body(self, status, headers, body, want_status, want_type):
        self.assertEqual(want_status, status, body[:300])
        content_type = headers.get("Content-Type", "")
        self.assertIn(want_type, content_type, "the Status is encoded like the request")
        try:
            decoded = decode_status(content_type, body)
        except ValueError as error:
            self.fail("the %d body is no google.rpc.Status (%s): %r" % (status, error, body[:300]))
        self.assertTrue(decoded["message"], "Status.message is set: %r" % (decoded,))

    def test_unsupported_content_type_is_415(self):
        body = json.dumps(json_request("raw", [])).encode()
        status, _, response = self.post("/v1/traces", body, "text/plain",
                                        {"x-honeycomb-team": TEAM})
        self.assertEqual(415, status, response[:300])

    def test_garbage_protobuf_is_400_with_a_protobuf_status(self):
        before = self.metric(REQUESTS_MALFORMED)
        garbage = b"\x0a\x40this is not an ExportTraceServiceRequest"  # length runs past the end
        self.assertRaises(ValueError, pb_fields, garbage)
        self.assert_status_body(*self.post("/v1/traces", garbage, "application/x-protobuf",
                                           {"x-honeycomb-team": TEAM}),
                                want_status=400, want_type="protobuf")
        self.assert_metric_grows(REQUESTS_MALFORMED, before, 1)

    def test_garbage_json_is_400_with_a_json_status(self):
        before = self.metric(REQUESTS_MALFORMED)
        self.assert_status_body(*self.post("/v1/traces", b'{"resourceSpans": [{"resource": ',
                                           "application/json", {"x-honeycomb-team": TEAM}),
                                want_status=400, want_type="application/json")
        self.assert_metric_grows(REQUESTS_MALFORMED, before, 1)

    def test_bodies_over_the_limit_are_413_even_when_they_compress_well(self):
        before = self.metric(REQUESTS_TOO_LARGE)
        now = time.time_ns()
        span = json_span(traceId=h.new_otel_trace_id(), spanId=h.new_span_id(), name="big", kind=1,
                         startTimeUnixNano=str(now - 1000), endTimeUnixNano=str(now),
                         attributes=[{"key": "padding",
                                      "value": {"stringValue": "x" * (self.MAX_BODY + 1)}}])
        body = json.dumps(json_request("raw-big", [span])).encode()
        for encoding in (None, "gzip"):
            with self.subTest(encoding=encoding):
                status, _, response = self.post("/v1/traces", body, "application/json",
                                                 {"x-honeycomb-team": TEAM}, encoding)
                self.assertEqual(413, status, response[:300])
        self.assertLess(len(gzip.compress(body)), self.MAX_BODY, "the gzip case is a small body")
        self.assert_metric_grows(REQUESTS_TOO_LARGE, before, 2)

    def test_get_on_v1_traces_is_not_allowed(self):
        status, _, response = h.http_get(self.waggle.otlp_http_url + "/v1/traces",
                                         headers={"x-honeycomb-team": TEAM})
        self.assertIn(status, (404, 405), response[:300])

    def test_empty_requests_succeed(self):
        for content_type, body, want in (("application/json", b"{}", {}),
                                         ("application/x-protobuf", b"", b"")):
            with self.subTest(content_type=content_type):
                status, _, response = self.post("/v1/traces", body, content_type,
                                                {"x-honeycomb-team": TEAM})
                self.assertEqual(200, status, response[:300])
                got = json.loads(response) if content_type == "application/json" else response
                self.assertEqual(want, got, "no partial_success in the response")

    def test_lenient_json_enum_names_uppercase_hex_and_string_int64_is_accepted(self):
        trace_id, root_id, child_id = h.new_otel_trace_id(), h.new_span_id(), h.new_span_id()
        start = time.time_ns() - 50 * 10**6
        body = {
            "resourceSpans": [{
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": "lenient-json"}}]},
                "scopeSpans": [{"scope": {"name": "hand-written"}, "spans": [
                    {"traceId": trace_id.upper(), "spanId": root_id.upper(),
                     "name": "GET /lenient", "kind": "SPAN_KIND_SERVER",
                     "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 40 * 10**6),
                     "attributes": [
                         {"key": "http.request.method", "value": {"stringValue": "GET"}},
                         {"key": "http.response.status_code", "value": {"intValue": "200"}}],
                     "status": {"code": "STATUS_CODE_OK"}},
                    {"traceId": trace_id.upper(), "spanId": child_id,
                     "parentSpanId": root_id.upper(), "name": "lenient-child",
                     "kind": "SPAN_KIND_INTERNAL",
                     "startTimeUnixNano": str(start + 10**6),
                     "endTimeUnixNano": start + 20 * 10**6,  # a number this time
                     "status": {"code": "STATUS_CODE_ERROR", "message": "child failed"},
                     "unknownFieldToIgnore": {"nested": [1, 2, 3]}},
                ]}],
            }],
        }
        status, headers, response = self.post("/v1/traces", json.dumps(body).encode(),
                                              "application/json; charset=utf-8",
                                              {"x-honeycomb-team": TEAM})
        self.assertEqual(200, status, response[:300])
        self.assertEqual({}, json.loads(response), "nothing refused")
        self.assertIn("application/json", headers.get("Content-Type", ""))
        resource = {"service.name": "lenient-json"}
        spans = [
            {"name": "GET /lenient", "kind": "SERVER", "trace_id": trace_id, "span_id": root_id,
             "parent_span_id": None, "start_time": start / 1e9, "end_time": start / 1e9 + 0.04,
             "status": {"code": "OK"}, "events": [], "links": [], "resource": resource,
             "attributes": {"http.request.method": "GET", "http.response.status_code": 200}},
            {"name": "lenient-child", "kind": "INTERNAL", "trace_id": trace_id,
             "span_id": child_id, "parent_span_id": root_id, "start_time": start / 1e9 + 0.001,
             "end_time": start / 1e9 + 0.02, "status": {"code": "ERROR"}, "events": [],
             "links": [], "resource": resource, "attributes": {}},
        ]
        self.assert_trace(spans)

    def test_a_span_with_a_15_byte_trace_id_is_refused_alone(self):
        before = self.metric(SPANS_REJECTED)
        trace_id = h.new_otel_trace_id()
        now = time.time_ns()
        good = [json_span(traceId=trace_id, spanId=h.new_span_id(), name="good-%d" % i, kind=2,
                          startTimeUnixNano=str(now - 10**7), endTimeUnixNano=str(now))
                for i in range(2)]
        bad = json_span(traceId=trace_id[:30], spanId=h.new_span_id(), name="bad-trace-id",
                        kind=2, startTimeUnixNano=str(now - 10**7), endTimeUnixNano=str(now))
        body = json.dumps(json_request("partial", [good[0], bad, good[1]])).encode()
        status, _, response = self.post("/v1/traces", body, "application/json",
                                        {"x-honeycomb-team": TEAM})
        self.assertEqual(200, status, response[:300])
        partial = json.loads(response).get("partialSuccess", {})
        self.assertEqual(1, int(partial.get("rejectedSpans", 0)), response)
        self.assertTrue(partial.get("errorMessage"), "an errorMessage says why: %s" % response)
        self.assertIsInstance(partial.get("rejectedSpans"), str,
                              "int64 is a string in OTLP/JSON: %s" % response)

        expected = [{"name": s["name"], "kind": "SERVER", "trace_id": trace_id,
                     "span_id": s["spanId"], "parent_span_id": None,
                     "start_time": (now - 10**7) / 1e9, "end_time": now / 1e9,
                     "status": {"code": "UNSET"}, "events": [], "links": [],
                     "resource": {"service.name": "partial"}, "attributes": {}}
                    for s in good]
        self.assert_trace(expected)
        self.assert_metric_grows(SPANS_REJECTED, before, 1)

    def test_application_protobuf_with_zstd_and_gzip_is_accepted(self):
        for content_type, encoding in (("application/protobuf", "zstd"),
                                        ("application/x-protobuf", "gzip")):
            with self.subTest(content_type=content_type, encoding=encoding):
                trace_id, span_id = h.new_otel_trace_id(), h.new_span_id()
                now = time.time_ns()
                raw = [{"trace_id": trace_id, "span_id": span_id, "name": "pb-" + encoding,
                        "kind": 2, "start_ns": now - 3 * 10**6, "end_ns": now, "status_code": 2}]
                status, headers, response = self.post(
                    "/v1/traces", h.pb_trace_request("raw-protobuf", raw), content_type,
                    {"x-honeycomb-team": TEAM}, encoding)
                self.assertEqual(200, status, response[:300])
                self.assertEqual(b"", response, "an empty ExportTraceServiceResponse")
                self.assertIn("protobuf", headers.get("Content-Type", ""))
                self.assert_trace([{
                    "name": "pb-" + encoding, "kind": "SERVER", "trace_id": trace_id,
                    "span_id": span_id, "parent_span_id": None,
                    "start_time": (now - 3 * 10**6) / 1e9, "end_time": now / 1e9,
                    "status": {"code": "ERROR"}, "events": [], "links": [],
                    "resource": {"service.name": "raw-protobuf"}, "attributes": {}}])


class HoneycombEvents(OtlpServerTestCase):
    """libhoney-js and the Events API (spec/honeycomb.md §2.1)."""

    def test_libhoney_batch_is_accepted_and_its_trace_is_readable(self):
        before = self.metric(EVENTS_ACCEPTED)
        run = self.node("libhoney_send.js", ["--api-host", self.waggle.otlp_http_url,
                                             "--dataset", "checkout-events",
                                             "--write-key", TEAM])
        out = run.output
        self.assertEqual([202] * len(out["events"]), [r["status_code"] for r in out["responses"]])
        self.assert_metric_grows(EVENTS_ACCEPTED, before, len(out["events"]))

        traced = [e for e in out["events"] if "trace.trace_id" in e["data"]]
        root_id = traced[0]["data"]["trace.span_id"]

        def problems_of(trace):
            if trace is None:
                return ["trace not returned by BatchGetTraces"]
            returned, problems = returned_entities(trace), []
            for event in traced:
                data = event["data"]
                label = "event %s (%s)" % (data["trace.span_id"], data["name"])
                if data["trace.span_id"] not in returned:
                    problems.append(label + ": missing")
                    continue
                entity, enclosing = returned[data["trace.span_id"]][0]
                if enclosing is not None and enclosing != data.get("trace.parent_id"):
                    problems.append("%s: nested inside %s" % (label, enclosing))
                if enclosing is None and entity.get("parent_id") != data.get("trace.parent_id"):
                    problems.append("%s: parent_id %r, expected %r"
                                    % (label, entity.get("parent_id"), data.get("trace.parent_id")))
                names = {data["name"], data["service.name"]}
                if data["trace.span_id"] == root_id and entity.get("name") not in names:
                    problems.append("%s: name %r, expected one of %s"
                                    % (label, entity.get("name"), sorted(names)))
                if data["trace.span_id"] != root_id and entity.get("name") != data["name"]:
                    problems.append("%s: name %r, expected %r"
                                    % (label, entity.get("name"), data["name"]))
                start, end = entity.get("start_time", 0), entity.get("end_time", 0)
                if abs(start - event["time"]) > 1e-3:
                    problems.append("%s: start_time %r, expected the event time %r"
                                    % (label, start, event["time"]))
                if abs((end - start) - data["duration_ms"] / 1000) > 1e-3:
                    problems.append("%s: end - start = %r, expected duration_ms / 1000 = %r"
                                    % (label, end - start, data["duration_ms"] / 1000))
            return problems

        trace, problems = self.read_trace(out["xray_trace_id"], problems_of)
        self.assert_no_problems(problems, "BatchGetTraces of the libhoney trace", trace)
        self.read_summary(out["xray_trace_id"])

    def test_libhoney_string_cut_through_a_surrogate_pair_keeps_the_batch(self):
        """libhoney sends JSON.stringify's lone \\ud83d escape: every event is stored, and the
        cut string holds U+FFFD."""
        before = self.metric(TEXT_REPAIRS)
        run = self.node("libhoney_send.js", ["--api-host", self.waggle.otlp_http_url,
                                             "--dataset", "cut-events", "--write-key", TEAM,
                                             "--cut-text"])
        out = run.output
        self.assertEqual([202] * len(out["events"]), [r["status_code"] for r in out["responses"]])
        self.assert_metric_grows(TEXT_REPAIRS, before, 1)
        root_id = out["events"][0]["data"]["trace.span_id"]

        def problems_of(trace):
            if trace is None:
                return ["trace not returned by BatchGetTraces"]
            returned = returned_entities(trace)
            if root_id not in returned:
                return ["the root event is missing"]
            text = json.dumps(returned[root_id][0][0], ensure_ascii=False)
            return [] if "thumbs \ufffd" in text else ["no 'thumbs \\ufffd' in " + text[:500]]

        trace, problems = self.read_trace(out["xray_trace_id"], problems_of)
        self.assert_no_problems(problems, "BatchGetTraces of the libhoney trace", trace)

    def test_msgpack_batch_as_libhoney_go_sends_it(self):
        """libhoney-go, and Refinery and the Lambda extension built on it, send /1/batch as
        MessagePack compressed with zstd: each event's "time" a timestamp extension, then
        "samplerate", then "data". The answer comes back in MessagePack, one status per event."""
        before = self.metric(EVENTS_ACCEPTED)
        trace_id = h.new_otel_trace_id()
        root, charge, stock = h.new_span_id(), h.new_span_id(), h.new_span_id()
        now = time.time_ns() // 1000 * 1000

        def go_time(ns):
            # libhoney-go's MsgpTime: extension -1 in 12 bytes (python3-msgpack's ExtType takes
            # no negative type, and its Timestamp picks the shortest form), written as bytes.
            return b"\xc7\x0c\xff" + struct.pack(">IQ", ns % 10**9, ns // 10**9)

        sent = [
            (now - 50 * 10**6, {"trace.trace_id": trace_id, "trace.span_id": root,
                                "name": "POST /checkout", "service.name": "checkout-go",
                                "duration_ms": 50.0, "customer.id": "customer-42",
                                "cart": {"items": 3, "skus": ["a-1", "b-2"]}}),
            (now - 40 * 10**6, {"trace.trace_id": trace_id, "trace.span_id": charge,
                                "trace.parent_id": root, "name": "charge card",
                                "service.name": "checkout-go", "duration_ms": 20.5,
                                "retries": 2, "ok": True}),
            (now - 15 * 10**6, {"trace.trace_id": trace_id, "trace.span_id": stock,
                                "trace.parent_id": root, "name": "reserve stock",
                                "service.name": "checkout-go", "duration_ms": 5}),
        ]
        packer = msgpack.Packer()
        batch = packer.pack_array_header(4)
        for i, (at_ns, data) in enumerate(sent):
            # the first two as libhoney-go writes them; the third with the spec's 8-byte
            # timestamp, as other encoders write it
            at = go_time(at_ns) if i < 2 else packer.pack(msgpack.Timestamp.from_unix_nano(at_ns))
            batch += (packer.pack_map_header(3) + packer.pack("time") + at
                      + packer.pack("samplerate") + packer.pack(4 if i == 1 else 1)
                      + packer.pack("data") + packer.pack(data))
        batch += packer.pack("not an event")
        body = subprocess.run(["zstd", "-q", "-c", "-2"], input=batch,
                              stdout=subprocess.PIPE, check=True).stdout
        status, headers, response = h.http_request(
            "POST", self.waggle.otlp_http_url + "/1/batch/checkout-go", body,
            {"Content-Type": "application/msgpack", "Content-Encoding": "zstd",
             "X-Honeycomb-Team": TEAM, "User-Agent": "libhoney-go/1.25.0"})
        self.assertEqual(200, status, response[:300])
        self.assertEqual("application/msgpack", headers.get("Content-Type"))
        answers = msgpack.unpackb(response)
        self.assertEqual([202, 202, 202, 400], [a["status"] for a in answers], answers)
        self.assertEqual("event must be a map", answers[3].get("error"))
        self.assertNotIn("error", answers[0])
        self.assert_metric_grows(EVENTS_ACCEPTED, before, 3)

        def problems_of(trace):
            if trace is None:
                return ["trace not returned by BatchGetTraces"]
            returned, problems = returned_entities(trace), []
            for at_ns, data in sent:
                label = "event %s (%s)" % (data["trace.span_id"], data["name"])
                if data["trace.span_id"] not in returned:
                    problems.append(label + ": missing")
                    continue
                entity, enclosing = returned[data["trace.span_id"]][0]
                parent = enclosing or entity.get("parent_id")
                if parent != data.get("trace.parent_id"):
                    problems.append("%s: parent %r, expected %r"
                                    % (label, parent, data.get("trace.parent_id")))
                names = {data["name"], data["service.name"]} if parent is None else {data["name"]}
                if entity.get("name") not in names:
                    problems.append("%s: name %r, expected one of %s"
                                    % (label, entity.get("name"), sorted(names)))
                start, end = entity.get("start_time", 0), entity.get("end_time", 0)
                if abs(start - at_ns / 1e9) > 1e-3:
                    problems.append("%s: start_time %r, expected %r" % (label, start, at_ns / 1e9))
                if abs((end - start) - data["duration_ms"] / 1000) > 1e-3:
                    problems.append("%s: end - start = %r, expected %r"
                                    % (label, end - start, data["duration_ms"] / 1000))
            if root in returned:
                text = json.dumps(returned[root][0][0])
                for value in ("customer-42", "a-1"):
                    if value not in text:
                        problems.append("root event: %r not in %s" % (value, text[:500]))
            return problems

        trace, problems = self.read_trace(h.xray_trace_id(trace_id), problems_of)
        self.assert_no_problems(problems, "BatchGetTraces of the MessagePack batch", trace)

    def test_single_event_endpoint_answers_200_with_an_empty_body(self):
        before = self.metric(EVENTS_ACCEPTED)
        trace_id, span_id = h.new_otel_trace_id(), h.new_span_id()
        event = {"trace.trace_id": trace_id, "trace.span_id": span_id, "name": "single-event",
                 "service.name": "events-api", "duration_ms": 12.5}
        status, _, response = h.http_request(
            "POST", self.waggle.otlp_http_url + "/1/events/single-events",
            json.dumps(event).encode(),
            {"Content-Type": "application/json", "X-Honeycomb-Team": TEAM})
        self.assertEqual(200, status, response[:300])
        self.assertEqual(b"", response)
        self.assert_metric_grows(EVENTS_ACCEPTED, before, 1)

        def problems_of(trace):
            if trace is None:
                return ["trace not returned by BatchGetTraces"]
            return [] if span_id in returned_entities(trace) else ["span %s missing" % span_id]

        trace, problems = self.read_trace(h.xray_trace_id(trace_id), problems_of)
        self.assert_no_problems(problems, "BatchGetTraces of the single event", trace)

    def test_batch_endpoint_answers_a_status_per_event(self):
        now = time.time()
        batch = [{"data": {"name": "one", "service.name": "events-api"}, "time": now},
                 {"data": {"name": "two", "service.name": "events-api"}, "samplerate": 4,
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".25Z"}]
        status, _, response = h.http_request(
            "POST", self.waggle.otlp_http_url + "/1/batch/raw-batch", json.dumps(batch).encode(),
            {"Content-Type": "application/json", "X-Honeycomb-Team": TEAM})
        self.assertEqual(200, status, response[:300])
        self.assertEqual([202, 202], [r.get("status") for r in json.loads(response)])

    def test_malformed_batch_is_400(self):
        status, _, response = h.http_request(
            "POST", self.waggle.otlp_http_url + "/1/batch/raw-batch", b"[{\"data\": ",
            {"Content-Type": "application/json", "X-Honeycomb-Team": TEAM})
        self.assertEqual(400, status, response[:300])


class OtlpLogs(OtlpServerTestCase):
    """The OpenTelemetry JS logs SDK over OTLP/HTTP."""

    def test_logs_exporter_succeeds_and_records_are_counted(self):
        for gzip_on in (False, True):
            with self.subTest(gzip=gzip_on):
                before = self.metric(LOG_RECORDS_ACCEPTED)
                args = ["--endpoint", self.waggle.otlp_http_url, "--team", TEAM]
                run = self.node("send_logs.js", args + (["--gzip"] if gzip_on else []))
                self.assertEqual(32, len(run.output["trace_id"]))
                self.assert_metric_grows(LOG_RECORDS_ACCEPTED, before, run.output["records"])

    def test_a_log_record_with_a_bad_trace_id_is_refused_alone(self):
        before = self.metric(LOG_RECORDS_ACCEPTED)
        now = str(time.time_ns())
        records = [
            {"timeUnixNano": now, "severityNumber": 9, "body": {"stringValue": "fine"},
             "traceId": h.new_otel_trace_id(), "spanId": h.new_span_id()},
            {"timeUnixNano": now, "severityNumber": 17, "body": {"stringValue": "bad id"},
             "traceId": h.new_otel_trace_id()[:30], "spanId": h.new_span_id()},
            {"timeUnixNano": now, "severityNumber": 13, "body": {"stringValue": "no ids"}},
        ]
        body = {"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name",
                                         "value": {"stringValue": "raw-logs"}}]},
            "scopeLogs": [{"scope": {"name": "raw"}, "logRecords": records}]}]}
        status, _, response = self.post("/v1/logs", json.dumps(body).encode(), "application/json",
                                        {"x-honeycomb-team": TEAM})
        self.assertEqual(200, status, response[:300])
        partial = json.loads(response).get("partialSuccess", {})
        self.assertEqual(1, int(partial.get("rejectedLogRecords", 0)), response)
        self.assert_metric_grows(LOG_RECORDS_ACCEPTED, before, 2)


class OtlpReplay(OtlpServerTestCase):
    """The real exporters' protobuf requests are logged as they came (WAL record type 3) and
    decoded again when the server restarts: after kill -9, which leaves them in the WAL alone,
    their traces read back in full, and so does the good span of a request that had one span
    refused (partial success), with no WAL record counted as damaged."""

    def test_protobuf_exports_read_back_the_same_after_kill9_and_replay(self):
        runs = [self.send_spans("http/protobuf", use_gzip=True, service="replay-http"),
                self.send_spans("grpc", service="replay-grpc")]
        trace_id, now = h.new_otel_trace_id(), time.time_ns()
        raw = [{"trace_id": trace_id, "span_id": h.new_span_id(), "name": "replayed", "kind": 2,
                "start_ns": now - 10**7, "end_ns": now},
               {"trace_id": trace_id[:30], "span_id": h.new_span_id(), "name": "refused",
                "kind": 2, "start_ns": now - 10**7, "end_ns": now}]
        status, _, response = self.post("/v1/traces", h.pb_trace_request("replay-raw", raw),
                                        "application/x-protobuf", {"x-honeycomb-team": TEAM})
        self.assertEqual(200, status, response[:300])
        self.assertNotEqual(b"", response, "a partial success names the refused span")
        expected_raw = [{"name": "replayed", "kind": "SERVER", "trace_id": trace_id,
                         "span_id": raw[0]["span_id"], "parent_span_id": None,
                         "start_time": (now - 10**7) / 1e9, "end_time": now / 1e9,
                         "status": {"code": "UNSET"}, "events": [], "links": [],
                         "resource": {"service.name": "replay-raw"}, "attributes": {}}]
        for spans in [r.output["spans"] for r in runs] + [expected_raw]:
            self.assert_trace(spans, what="BatchGetTraces before kill -9")
        types = h.wal_record_types(self.waggle.data_dir)
        self.assertGreaterEqual(types[h.WAL_SPAN_SOURCE], 3, "one record a request: %s" % types)

        self.waggle.kill9()
        self.waggle.restart()
        self.assertEqual(0, self.metric("waggle_store_wal_corrupt_regions"))
        self.assertGreaterEqual(self.metric("waggle_store_wal_records_replayed"), 3)
        for spans in [r.output["spans"] for r in runs] + [expected_raw]:
            self.assert_trace(spans, what="BatchGetTraces after kill -9 and replay")


class MixedXRayAndOtel(OtlpServerTestCase):
    """A Flask app with the X-Ray SDK (UDP) calls a Node service traced with OpenTelemetry
    (OTLP/HTTP, AWS X-Ray propagator): one trace, the Node SERVER span under Flask's HTTP
    subsegment. Both tests read the trace of one request (made by whichever runs first)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node_service = h.NodeApp(
            "mixed_service.js",
            ["--endpoint", cls.waggle.otlp_http_url, "--service", "pricing-node", "--team", TEAM],
            cls.workdir / "pricing-node.log").start()
        cls.addClassCleanup(cls.node_service.stop)
        port = h.free_port()
        cls.flask = h.start_python_app(
            FLASK_APP, ["--service", "orders-flask", "--port", port,
                        "--node", cls.node_service.url],
            port, cls.workdir / "orders-flask.log",
            env={"AWS_XRAY_DAEMON_ADDRESS": "%s:%d" % cls.waggle.xray_udp_address})
        cls.addClassCleanup(cls.flask.stop)
        cls.call = None

    def quote(self):
        """GETs Flask's quote route once per class; returns {trace_id (X-Ray form),
        http_subsegment_id (the Parent= Node received), spans (what Node exported)}."""
        if type(self).call is not None:
            return type(self).call
        status, headers, body = h.http_get(self.flask.url + "/api/orders/42/quote")
        self.assertEqual(200, status, "%r\n%s" % (body[:500], self.flask.log_tail()))
        header = headers.get("X-Amzn-Trace-Id", "")
        root = dict(p.split("=", 1) for p in header.split(";") if "=" in p).get("Root")
        self.assertTrue(root, "Flask's X-Amzn-Trace-Id header: %r" % header)
        node = json.loads(body)["node"]
        incoming = dict(p.split("=", 1) for p in (node["incoming_trace_header"] or "").split(";")
                        if "=" in p)
        self.assertEqual(root, incoming.get("Root"), "the X-Ray SDK propagated its trace id")
        http_subsegment_id = incoming.get("Parent")
        self.assertTrue(http_subsegment_id, node)
        self.assertEqual(root, h.xray_trace_id(node["trace_id"]),
                         "the Node SERVER span continued the Flask trace")

        status, _, flushed = h.http_get(self.node_service.url + "/flush")
        self.assertEqual(200, status, "%r\n%s" % (flushed[:1000], self.node_service.log_tail()))
        spans = [s for s in json.loads(flushed)["spans"] if h.xray_trace_id(s["trace_id"]) == root]
        server = [s for s in spans if s["kind"] == "SERVER"]
        self.assertEqual(1, len(server), spans)
        self.assertEqual(http_subsegment_id, server[0]["parent_span_id"])
        self.assertEqual(2, len(spans), "the SERVER span and its INTERNAL child: %s" % spans)
        type(self).call = {"trace_id": root, "http_subsegment_id": http_subsegment_id,
                           "spans": spans}
        return type(self).call

    def flask_problems(self, trace, call):
        """(problems, ids of the Flask segment's entities) for the X-Ray SDK's side."""
        flask = [s["Doc"] for s in trace["Segments"] if s["Doc"].get("name") == "orders-flask"]
        if len(flask) != 1:
            return ["expected one orders-flask segment, got %d" % len(flask)], set()
        entities = {e["id"]: e for e, _ in h.walk_entities(flask[0])}
        call_entity = entities.get(call["http_subsegment_id"])
        if call_entity is None:
            return ["the Flask segment holds no subsegment %s (the Parent= the SDK sent)"
                    % call["http_subsegment_id"]], set(entities)
        problems = []
        if call_entity.get("namespace") != "remote":
            problems.append("Flask's HTTP subsegment: namespace %r, expected remote"
                            % call_entity.get("namespace"))
        url = ((call_entity.get("http") or {}).get("request") or {}).get("url", "")
        if not url.startswith(self.node_service.url + "/work"):
            problems.append("Flask's HTTP subsegment: url %r" % url)
        return problems, set(entities)

    def test_node_server_span_joins_the_flask_trace_under_its_http_subsegment(self):
        call = self.quote()

        def problems_of(trace):
            if trace is None:
                return ["trace not returned by BatchGetTraces"]
            problems, flask_ids = self.flask_problems(trace, call)
            return problems + trace_problems(call["spans"], trace, flask_ids, full=False)

        trace, problems = self.read_trace(call["trace_id"], problems_of)
        self.assert_no_problems(problems, "BatchGetTraces of the mixed trace %s"
                                % call["trace_id"], trace)

    def test_instrumentation_http_server_span_maps_to_an_xray_segment(self):
        """The full §9.3 mapping of real instrumentation-http attributes (stable semconv)."""
        call = self.quote()

        def problems_of(trace):
            if trace is None:
                return ["trace not returned by BatchGetTraces"]
            _, flask_ids = self.flask_problems(trace, call)
            return trace_problems(call["spans"], trace, flask_ids, full=True)

        trace, problems = self.read_trace(call["trace_id"], problems_of)
        self.assert_no_problems(problems, "the Node spans of %s" % call["trace_id"], trace)


if __name__ == "__main__":
    h.main(sys.modules[__name__])
else:
    # Loaded by `python3 -m unittest test/e2e/otlp_test.py`: $WAGGLE_BIN, else build/waggle.
    _default = os.environ.get("WAGGLE_BIN") or str(h.REPO_DIR / "build" / "waggle")
    if os.access(_default, os.X_OK):
        WAGGLE_BIN = os.path.abspath(_default)
