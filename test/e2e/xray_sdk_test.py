#!/usr/bin/python3
"""End-to-end: the real X-Ray clients against a real `waggle serve`.

    /usr/bin/python3 test/e2e/xray_sdk_test.py --waggle build/waggle [unittest args, e.g. -v]
    (or WAGGLE_BIN=build/waggle /usr/bin/python3 test/e2e/xray_sdk_test.py)

Clients: two Flask services instrumented with Debian's aws-xray-sdk 0.95 (apps/xray_flask_app.py)
sending UDP segments, and Debian's AWS CLI reading them back through the X-Ray API
(GetTraceSummaries, BatchGetTraces) and writing with PutTraceSegments. A UdpTee between the SDK
and waggle records what the SDK really sent, and every expectation is computed from that record:
nothing the SDK emitted may be missing, moved or altered in what waggle returns. test_3c adds
npm's aws-xray-sdk-core (node/xray_cut_text.js), sending a segment with text cut through a
surrogate pair.

The tests share one server and run in name order (test_1 ... test_5); test_2 checks that what
test_1 read survives `kill -9` and a restart, so it is skipped when test_1 did not get that far.
Set WAGGLE_E2E_KEEP=1 to keep the temp dir (server log, data dir, app logs) for inspection.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

APP = Path(__file__).resolve().parent / "apps" / "xray_flask_app.py"
BOOM_MESSAGE = "kaboom: the boom route always fails"  # apps/xray_flask_app.py BOOM_MESSAGE
STEPS = 40  # > 30, the SDK's streaming threshold, so the route's subsegments get streamed
DATA_TIMEOUT = 30.0  # seconds ingested data gets to become visible through the API
TIME_TOLERANCE = 1e-6  # seconds; times sent as JSON numbers must come back to the microsecond

WAGGLE_BIN = None  # set by h.main() from --waggle / $WAGGLE_BIN


# --------------------------------------------------------------------------------------------
# Expectations computed from what was sent


def parse_datagrams(datagrams):
    """Segment documents (dicts) of daemon datagrams, in order."""
    return [json.loads(h.split_xray_datagram(d)[1]) for d in datagrams]


def group_by_trace(documents):
    by_trace = {}
    for doc in documents:
        by_trace.setdefault(doc["trace_id"], []).append(doc)
    return by_trace


def sent_entities(documents):
    """id -> (entity, expected parent id) over all sent documents and their nested subsegments.

    A top-level segment's expected parent is its own parent_id (None for a root); a subsegment's
    is its parent_id, or the enclosing entity's id when it has none. A later copy of an id
    replaces an earlier one (that is how X-Ray treats re-sent documents).
    """
    entities = {}
    for doc in documents:
        for entity, enclosing in h.walk_entities(doc):
            parent = entity.get("parent_id")
            if parent is None and enclosing is not None:
                parent = enclosing["id"]
            entities[entity["id"]] = (entity, parent)
    return entities


def is_segment(entity):
    return entity.get("type") != "subsegment"


def root_segment(documents):
    """The trace's root: the segment without a parent inside the trace (earliest if several)."""
    ids = {e["id"] for doc in documents for e, _ in h.walk_entities(doc)}
    roots = [d for d in documents if is_segment(d) and d.get("parent_id") not in ids]
    return min(roots, key=lambda d: d["start_time"]) if roots else None


def value_differences(sent, got, path=""):
    """Where `got` differs from `sent`: every key sent must come back with an equal value.

    Numbers compare within TIME_TOLERANCE (times are doubles; an int may come back as 1.0 but a
    bool must stay a bool); extra keys in `got` are allowed (X-Ray adds some of its own).
    """
    if isinstance(sent, bool) or isinstance(got, bool):
        return [] if sent is got else ["%s: sent %r, got %r" % (path, sent, got)]
    if isinstance(sent, (int, float)) and isinstance(got, (int, float)):
        if abs(sent - got) <= TIME_TOLERANCE:
            return []
        return ["%s: sent %r, got %r" % (path, sent, got)]
    if isinstance(sent, dict) and isinstance(got, dict):
        out = []
        for key, value in sent.items():
            if key not in got:
                out.append("%s.%s: missing (sent %s)" % (path, key, json.dumps(value)[:120]))
            else:
                out.extend(value_differences(value, got[key], "%s.%s" % (path, key)))
        return out
    if isinstance(sent, list) and isinstance(got, list):
        if len(sent) != len(got):
            return ["%s: sent %d items, got %d" % (path, len(sent), len(got))]
        out = []
        for i, (a, b) in enumerate(zip(sent, got)):
            out.extend(value_differences(a, b, "%s[%d]" % (path, i)))
        return out
    return [] if sent == got else ["%s: sent %r, got %r" % (path, sent, got)]


def trace_problems(trace_id, sent_docs, trace):
    """Everything wrong with BatchGetTraces' `trace` given the documents sent for it ([] if none).

    - every sent segment is returned as its own Segment (Id = document id, same trace id);
    - every sent subsegment is returned exactly once: nested under the entity its parent_id
      names when that entity is in the trace (streamed subsegments merged back), otherwise as
      a separate document carrying that parent_id;
    - every field sent comes back unchanged (see value_differences);
    - nothing else is returned, except documents marked `"inferred": true`.
    """
    if trace is None:
        return ["trace %s: not returned by BatchGetTraces" % trace_id]
    problems = []
    expected = sent_entities(sent_docs)
    returned = {}  # id -> list of (entity, enclosing entity id or None for a top-level document)
    for segment in trace.get("Segments", []):
        doc = segment["Doc"]
        if segment.get("Id") != doc.get("id"):
            problems.append("Segment Id %r differs from its document's id %r"
                            % (segment.get("Id"), doc.get("id")))
        if doc.get("trace_id") != trace_id:
            problems.append("document %s has trace_id %r" % (doc.get("id"), doc.get("trace_id")))
        for entity, enclosing in h.walk_entities(doc):
            returned.setdefault(entity.get("id"), []).append(
                (entity, enclosing["id"] if enclosing else None))

    for entity_id, copies in returned.items():
        if len(copies) > 1:
            problems.append("%s (%s) returned %d times"
                            % (entity_id, copies[0][0].get("name"), len(copies)))
        if entity_id not in expected and not copies[0][0].get("inferred"):
            problems.append("%s (%s) returned but never sent"
                            % (entity_id, copies[0][0].get("name")))

    for entity_id, (sent, parent) in expected.items():
        label = "%s %s (%s)" % ("segment" if is_segment(sent) else "subsegment", entity_id,
                                sent.get("name"))
        if entity_id not in returned:
            problems.append("%s: missing" % label)
            continue
        got, container = returned[entity_id][0]
        if is_segment(sent):
            if container is not None:
                problems.append("%s: returned nested inside %s instead of as a Segment"
                                % (label, container))
        elif parent in returned:
            if container != parent:
                problems.append("%s: expected inside its parent %s, found %s"
                                % (label, parent, "as a separate document" if container is None
                                   else "inside " + container))
        elif got.get("parent_id") != parent:
            problems.append("%s: orphan returned with parent_id %r, expected %r"
                            % (label, got.get("parent_id"), parent))
        sent_fields = {k: v for k, v in sent.items() if k != "subsegments"}
        problems.extend("%s: %s" % (label, d) for d in value_differences(sent_fields, got))
    return problems


def summary_problems(summary, sent_docs):
    """What is wrong in a TraceSummary given the trace's sent documents (xray.md §5.4, §2.9)."""
    root = root_segment(sent_docs)
    if root is None:
        return ["no root segment was sent for this trace; the test cannot check its summary"]
    problems = []
    segments = [d for d in sent_docs if is_segment(d)]
    entities = [e for d in sent_docs for e, _ in h.walk_entities(d)]

    def check(field, got, want, tolerance=None):
        ok = (abs(got - want) <= tolerance) if (tolerance is not None and
                                                isinstance(got, (int, float))) else got == want
        if not ok:
            problems.append("%s: got %r, expected %r" % (field, got, want))

    check("HasFault", summary.get("HasFault"), bool(root.get("fault")))
    check("HasError", summary.get("HasError"), bool(root.get("error")))
    check("HasThrottle", summary.get("HasThrottle"), any(e.get("throttle") for e in entities))
    check("IsPartial", summary.get("IsPartial", False),
          any(d.get("in_progress") for d in sent_docs))
    check("ResponseTime", summary.get("ResponseTime"),
          root["end_time"] - root["start_time"], tolerance=1e-3)
    check("Duration", summary.get("Duration"),
          max(d["end_time"] for d in segments) - min(d["start_time"] for d in segments),
          tolerance=1e-3)
    request = root.get("http", {}).get("request", {})
    response = root.get("http", {}).get("response", {})
    http = summary.get("Http", {})
    check("Http.HttpURL", http.get("HttpURL"), request.get("url"))
    check("Http.HttpMethod", http.get("HttpMethod"), request.get("method"))
    check("Http.HttpStatus", http.get("HttpStatus"), response.get("status"))
    check("Http.UserAgent", http.get("UserAgent"), request.get("user_agent"))
    check("Http.ClientIp", http.get("ClientIp"), request.get("client_ip"))
    check("ServiceIds names", sorted({s.get("Name") for s in summary.get("ServiceIds", [])}),
          sorted({d["name"] for d in segments}))
    return problems


def annotation_values(summary, key):
    """The AnnotationValue dicts a summary lists for annotation `key`."""
    return [v.get("AnnotationValue") for v in summary.get("Annotations", {}).get(key, [])]


def canonical(value):
    """`value` with every list sorted, for comparing results whose list order is unspecified."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


# --------------------------------------------------------------------------------------------


class XRaySdkEndToEnd(h.ServerTestCase):
    """aws-xray-sdk 0.95 (UDP) and the AWS CLI (X-Ray API) against one `waggle serve`."""

    workdir_prefix = "waggle-e2e-xray-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        cls.tee = h.UdpTee(cls.waggle.xray_udp_address).start()
        cls.addClassCleanup(cls.tee.stop)
        sdk_env = {"AWS_XRAY_DAEMON_ADDRESS": cls.tee.address}
        user_port, backend_port = h.free_port(), h.free_port()
        cls.user_service = h.start_python_app(
            APP, ["--service", "user-service", "--port", user_port], user_port,
            cls.workdir / "user-service.log", env=sdk_env)
        cls.addClassCleanup(cls.user_service.stop)
        cls.backend = h.start_python_app(
            APP, ["--service", "backend-flask", "--port", backend_port,
                  "--downstream", cls.user_service.url], backend_port,
            cls.workdir / "backend-flask.log", env=sdk_env)
        cls.addClassCleanup(cls.backend.stop)

        cls.snapshot = None  # what test_1 read, for test_2 to compare against

    # ---- helpers

    def request(self, path):
        """GETs `path` on backend-flask; returns (status, trace id from X-Amzn-Trace-Id)."""
        status, headers, body = h.http_get(self.backend.url + path)
        header = headers.get("X-Amzn-Trace-Id", "")
        fields = dict(p.split("=", 1) for p in header.split(";") if "=" in p)
        self.assertIn("Root", fields, "GET %s: no trace id in X-Amzn-Trace-Id (%r), body %r\n%s"
                      % (path, header, body[:300], self.backend.log_tail()))
        return status, fields["Root"]

    def sent_documents(self, trace_ids):
        """The documents the SDK sent for `trace_ids`, grouped by trace, once all have arrived.

        The SDK sends a root segment after everything else of its trace (streamed subsegments
        and the downstream service's segment are sent while the request is still open), so a
        trace is complete in the tee once its root segment is there.
        """
        def probe():
            by_trace = group_by_trace(parse_datagrams(self.tee.datagrams()))
            complete = all(
                any(is_segment(d) and "parent_id" not in d for d in by_trace.get(t, []))
                for t in trace_ids)
            return complete, by_trace

        ok, by_trace = h.wait_until(probe, DATA_TIMEOUT)
        self.assertTrue(ok, "the SDK did not send a root segment for every trace within %.0f s"
                        % DATA_TIMEOUT)
        return {t: by_trace[t] for t in trace_ids}

    def read_traces(self, sent_by_trace):
        """BatchGetTraces for the sent traces, polled until nothing is missing or time runs out.

        Returns (traces by id, unprocessed ids, problems by trace id) of the last read.
        """
        def probe():
            traces, unprocessed = h.batch_get_traces(self.aws, sent_by_trace)
            problems = {t: trace_problems(t, docs, traces.get(t))
                        for t, docs in sent_by_trace.items()}
            return not any(problems.values()), (traces, unprocessed, problems)

        return h.wait_until(probe, DATA_TIMEOUT, interval=0.5)[1]

    def read_summaries(self, start, end, expected_ids):
        """GetTraceSummaries [start, end), polled until it lists `expected_ids`; {Id: summary}."""
        def probe():
            reply = self.aws("xray", "get-trace-summaries", "--start-time", start,
                             "--end-time", end)
            by_id = {s["Id"]: s for s in reply.get("TraceSummaries", [])}
            return (set(expected_ids) <= set(by_id)), by_id

        return h.wait_until(probe, DATA_TIMEOUT, interval=0.5)[1]

    def assert_no_problems(self, problems_by_trace, what, shown=40):
        lines = ["%s: %s" % (t, p) for t, problems in problems_by_trace.items() for p in problems]
        if lines:
            more = ["... and %d more" % (len(lines) - shown)] if len(lines) > shown else []
            self.fail("%s (%d problems):\n  %s\n%s"
                      % (what, len(lines), "\n  ".join(lines[:shown] + more),
                         self.waggle.log_tail(30)))

    # ---- the tests

    def test_1_sdk_traces_are_complete(self):
        """Every segment and subsegment the SDK sent comes back, merged and unchanged."""
        t_start = time.time()
        routes = {}
        for name, path in [("profile", "/api/users/42/profile"),
                           ("many", "/api/many?n=%d" % STEPS),
                           ("many_nested", "/api/many?n=%d&nested=1" % STEPS),
                           ("boom", "/api/boom"),
                           ("notifications", "/api/notifications")]:
            status, trace_id = self.request(path)
            self.assertEqual(status, 500 if name == "boom" else 200, "GET " + path)
            routes[name] = trace_id
        t_end = time.time()
        self.assertEqual(len(set(routes.values())), len(routes), "each request is its own trace")

        sent = self.sent_documents(list(routes.values()))
        self.check_sdk_behaviour(routes, sent)

        traces, unprocessed, problems = self.read_traces(sent)
        self.assertEqual([], unprocessed, "UnprocessedTraceIds")
        self.assert_no_problems(problems, "BatchGetTraces vs. what the SDK sent")

        # GetTraceSummaries, TimeRangeType TraceId: trace-id epochs in [start, end).
        window = (int(t_start), int(t_end) + 1)
        summaries = self.read_summaries(*window, routes.values())
        self.assertEqual(sorted(routes.values()), sorted(summaries),
                         "GetTraceSummaries %s lists exactly the traces made in it" % (window,))
        self.assert_no_problems(
            {t: summary_problems(summaries[t], sent[t]) for t in routes.values()},
            "TraceSummaries vs. what the SDK sent")

        self.check_profile(sent[routes["profile"]], traces[routes["profile"]])
        self.check_many(traces[routes["many"]], nested=False)
        self.check_many(traces[routes["many_nested"]], nested=True)
        self.check_boom(traces[routes["boom"]], summaries[routes["boom"]])
        self.check_notifications(traces[routes["notifications"]],
                                 summaries[routes["notifications"]])

        type(self).snapshot = {"window": window, "routes": routes,
                               "summaries": canonical(summaries),
                               "traces": canonical(_comparable(traces))}

    def check_sdk_behaviour(self, routes, sent):
        """Preconditions on the client side, so that the server checks mean what they claim."""
        streamed = [d for d in sent[routes["many"]] if not is_segment(d)]
        self.assertEqual(31, len(streamed),
                         "SDK 0.95 streams the 31 closed subsegments once a segment holds > 30")
        streamed = [d for d in sent[routes["many_nested"]] if not is_segment(d)]
        self.assertEqual(30, len(streamed), "nested: 30 steps + batch > 30, the steps stream")
        self.assertEqual(2, len(sent[routes["profile"]]), "backend-flask + user-service segments")

    def check_profile(self, sent_docs, trace):
        """user-service's segment is a child of backend-flask's remote subsegment."""
        docs = {s["Doc"]["name"]: s["Doc"] for s in trace["Segments"]}
        self.assertEqual({"backend-flask", "user-service"}, set(docs))
        remote = [e for e, _ in h.walk_entities(docs["backend-flask"])
                  if e.get("namespace") == "remote"]
        self.assertEqual(1, len(remote), "one remote subsegment for the requests call")
        self.assertEqual(self.user_service.url + "/api/users/42", remote[0]["name"])
        self.assertEqual(remote[0]["id"], docs["user-service"].get("parent_id"),
                         "user-service parent_id = backend-flask's remote subsegment id")
        self.assertEqual(docs["backend-flask"]["trace_id"], docs["user-service"]["trace_id"])
        self.assertNotIn("parent_id", docs["backend-flask"])
        self.assertEqual(["load-user"], [s["name"] for s in docs["user-service"]["subsegments"]])

    def check_many(self, trace, nested):
        """All STEPS step-N subsegments are there exactly once, under their parent."""
        self.assertEqual(1, len(trace["Segments"]), "one segment; streamed parts merged into it")
        segment = trace["Segments"][0]["Doc"]
        parent = segment
        if nested:
            batch = [s for s in segment.get("subsegments", []) if s["name"] == "batch"]
            self.assertEqual(1, len(batch), "the batch subsegment")
            parent = batch[0]
        names = sorted((s["name"] for s in parent.get("subsegments", [])),
                       key=lambda n: int(n.split("-")[1]))
        self.assertEqual(["step-%d" % i for i in range(STEPS)], names)
        self.assertTrue(all(s.get("parent_id") == parent["id"] for s in parent["subsegments"]))

    def check_boom(self, trace, summary):
        self.assertIs(True, summary.get("HasFault"), "HasFault of the failing request")
        self.assertIs(False, summary.get("HasError"))
        self.assertEqual(500, summary.get("Http", {}).get("HttpStatus"))
        segment = trace["Segments"][0]["Doc"]
        self.assertIs(True, segment.get("fault"))
        failing = [s for s in segment.get("subsegments", []) if s["name"] == "failing-fn"]
        self.assertEqual(1, len(failing), "the failing-fn subsegment")
        exception = failing[0]["cause"]["exceptions"][0]
        self.assertEqual(BOOM_MESSAGE, exception.get("message"))
        self.assertEqual("ValueError", exception.get("type"))
        # The segment refers to the exception recorded in the subsegment by its id.
        self.assertEqual(exception["id"], segment.get("cause"))

    def check_notifications(self, trace, summary):
        segment = trace["Segments"][0]["Doc"]
        parent = [s for s in segment.get("subsegments", [])
                  if s["name"] == "notifications-activities"]
        self.assertEqual(1, len(parent))
        child = [s["name"] for s in parent[0].get("subsegments", [])]
        self.assertEqual(["mock-data"], child)
        # Annotations from the segment and from nested subsegments, all three value kinds.
        self.assertIn({"StringValue": "andrew"}, annotation_values(summary, "user_id"),
                      summary.get("Annotations"))
        self.assertIn({"NumberValue": 2}, annotation_values(summary, "notifications_count"),
                      summary.get("Annotations"))
        self.assertIn({"BooleanValue": False}, annotation_values(summary, "mock_data_cached"),
                      summary.get("Annotations"))

    def test_2_data_survives_kill9_and_restart(self):
        """After kill -9 and a restart on the same data dir the API returns the same results."""
        snapshot = type(self).snapshot
        if snapshot is None:
            self.skipTest("test_1 did not complete")
        self.waggle.kill9()
        self.waggle.restart()
        routes = snapshot["routes"]

        def probe():
            summaries = self.aws("xray", "get-trace-summaries", "--start-time",
                                 snapshot["window"][0], "--end-time", snapshot["window"][1])
            traces, _ = h.batch_get_traces(self.aws, routes.values())
            now = {"summaries": canonical({s["Id"]: s for s in summaries["TraceSummaries"]}),
                   "traces": canonical(_comparable(traces))}
            same = (now["summaries"] == snapshot["summaries"]
                    and now["traces"] == snapshot["traces"])
            return same, now

        ok, now = h.wait_until(probe, DATA_TIMEOUT, interval=0.5)
        if not ok:
            self.assertEqual(snapshot["summaries"], now["summaries"], "summaries after restart")
            self.assertEqual(snapshot["traces"], now["traces"], "traces after restart")

    def test_3_put_trace_segments_reports_bad_documents(self):
        now = time.time()
        trace_id = h.new_trace_id(now)
        segment_id, subsegment_id = h.new_span_id(), h.new_span_id()

        def doc(name, **fields):
            base = {"id": h.new_span_id(), "name": name, "trace_id": trace_id,
                    "start_time": now, "end_time": now + 0.25}
            base.update(fields)
            return base

        good = [
            doc("put-api-e2e", id=segment_id, annotations={"source": "put-trace-segments"},
                http={"request": {"method": "POST", "url": "http://example.com/orders"},
                      "response": {"status": 201}}),
            # independent subsegment: attaches to the segment above
            doc("child-call", id=subsegment_id, type="subsegment", parent_id=segment_id,
                namespace="remote", start_time=now + 0.05, end_time=now + 0.1),
            # in-progress downstream segment (no end_time)
            {"id": h.new_span_id(), "name": "worker", "trace_id": trace_id,
             "parent_id": subsegment_id, "start_time": now + 0.06, "in_progress": True},
            # every punctuation mark the name rule allows, Unicode letters and whitespace
            doc("Überweisung 服务_1.a:b/c%d&e#f=g+h\\i-j@k", parent_id=subsegment_id),
        ]
        missing_id = doc("no-id")
        del missing_id["id"]
        bad_trace_id = doc("bad-trace-id", trace_id="1-not-a-trace-id")
        backwards = doc("backwards", end_time=now - 5)
        bad_name = doc("bad?name")
        not_json = "this is not JSON {"
        documents = [json.dumps(good[0]), json.dumps(missing_id), json.dumps(good[1]),
                     json.dumps(bad_trace_id), not_json, json.dumps(good[2]),
                     json.dumps(backwards), json.dumps(bad_name), json.dumps(good[3])]

        reply = self.aws("xray", "put-trace-segments", "--trace-segment-documents", *documents)
        unprocessed = reply.get("UnprocessedTraceSegments")
        self.assertIsInstance(unprocessed, list, reply)
        described = json.dumps(unprocessed, indent=1)
        self.assertEqual(5, len(unprocessed), "exactly the 5 bad documents: " + described)
        self.assertTrue(all(u.get("ErrorCode") for u in unprocessed),
                        "ErrorCode on each: " + described)
        with_id = {u["Id"]: u["ErrorCode"] for u in unprocessed if u.get("Id")}
        self.assertEqual({bad_trace_id["id"], backwards["id"], bad_name["id"]}, set(with_id),
                         "Ids of the unprocessed documents: " + described)
        self.assertEqual("InvalidTraceId", with_id[bad_trace_id["id"]])
        self.assertEqual("InvalidName", with_id[bad_name["id"]])
        without_id = sorted(u["ErrorCode"] for u in unprocessed if not u.get("Id"))
        self.assertEqual(2, len(without_id), "missing id and not JSON have no Id: " + described)
        self.assertIn("MissingId", without_id, described)

        # The good ones are stored (the bad ones sharing the trace id are not: trace_problems
        # reports anything returned that was not sent).
        traces, unprocessed_ids, problems = self.read_traces({trace_id: good})
        self.assertEqual([], unprocessed_ids)
        self.assert_no_problems(problems, "BatchGetTraces after PutTraceSegments")
        summaries = self.read_summaries(int(now), int(now) + 1, [trace_id])
        self.assertIn(trace_id, summaries)
        self.assertIs(True, summaries[trace_id].get("IsPartial"), "an in-progress segment")

    def test_3b_lone_surrogates_are_stored_as_replacement_characters(self):
        """Python's json.dumps (as the SDK and the CLI's callers use it) writes a string holding a
        lone surrogate, as os.fsdecode makes of a file name that is not UTF-8, as the escape
        \\udcff; so does JavaScript's JSON.stringify for a string cut through a surrogate pair.
        Such a document is stored with U+FFFD in its place, over UDP and PutTraceSegments."""
        now = time.time()
        before = h.metric_total(h.read_metrics(self.waggle.http_url),
                                "waggle_xray_text_repairs_total") or 0
        trace_id = h.new_trace_id(now)
        file_name = os.fsdecode(b"report-\xff.csv")  # 'report-\udcff.csv'
        docs = [{"id": h.new_span_id(), "name": name, "trace_id": trace_id, "start_time": now,
                 "end_time": now + 0.1, "annotations": {"file": file_name}}
                for name in ("over-udp", "over-api")]
        h.send_udp(self.waggle.xray_udp_address, [h.xray_datagram(docs[0])])
        reply = self.aws("xray", "put-trace-segments", "--trace-segment-documents",
                         json.dumps(docs[1]))
        self.assertEqual([], reply.get("UnprocessedTraceSegments"), reply)

        def probe():
            traces, _ = h.batch_get_traces(self.aws, [trace_id])
            segments = traces.get(trace_id, {}).get("Segments", [])
            files = {s["Doc"]["name"]: s["Doc"].get("annotations", {}).get("file")
                     for s in segments}
            return files == {"over-udp": "report-\ufffd.csv", "over-api": "report-\ufffd.csv"}, files

        ok, files = h.wait_until(probe, DATA_TIMEOUT, interval=0.5)
        self.assertTrue(ok, "annotations read back: %r" % files)
        after = h.metric_total(h.read_metrics(self.waggle.http_url),
                               "waggle_xray_text_repairs_total")
        self.assertEqual(before + 2, after)

    def test_3c_node_sdk_text_cut_through_a_surrogate_pair(self):
        """aws-xray-sdk-core (node/xray_cut_text.js) sends a segment whose annotation and metadata
        hold text cut through a surrogate pair; JSON.stringify writes the lone half as \\ud83d.
        The segment is stored whole, with U+FFFD in place of the half."""
        h.require_node_clients()
        before = h.metric_total(h.read_metrics(self.waggle.http_url),
                                "waggle_xray_text_repairs_total") or 0
        run = h.run_node("xray_cut_text.js", ["--daemon", "%s:%d" % self.waggle.xray_udp_address])
        self.assertEqual(0, run.returncode, run.describe())
        self.assertIsNotNone(run.output, run.describe())
        self.assertEqual("report-\ud83d.csv", run.output["text"])
        trace_id = run.output["trace_id"]

        def probe():
            traces, _ = h.batch_get_traces(self.aws, [trace_id])
            docs = [s["Doc"] for s in traces.get(trace_id, {}).get("Segments", [])]
            return len(docs) == 1, docs

        ok, docs = h.wait_until(probe, DATA_TIMEOUT, interval=0.5)
        self.assertTrue(ok, "segments read back: %r" % docs)
        doc = docs[0]
        self.assertEqual(run.output["id"], doc["id"])
        self.assertEqual("node-cut-text", doc["name"])
        self.assertEqual({"file": "report-\ufffd.csv"}, doc.get("annotations"))
        self.assertEqual({"default": {"file": "report-\ufffd.csv"}}, doc.get("metadata"))
        after = h.metric_total(h.read_metrics(self.waggle.http_url),
                               "waggle_xray_text_repairs_total")
        self.assertEqual(before + 2, after)  # the counter counts replacements: two here

    def test_4_replayed_captured_datagrams(self):
        """The captured SDK datagrams in test/testdata, replayed over UDP, read back by id."""
        datagrams = []
        for name in ("xray-udp-flask.txt", "xray-udp-flask-more.txt"):
            path = h.TESTDATA_DIR / name
            self.assertTrue(path.is_file(), "%s is missing" % path)
            datagrams += h.read_captured_datagrams(path)
        h.send_udp(self.waggle.xray_udp_address, datagrams)

        sent = group_by_trace(parse_datagrams(datagrams))
        traces, unprocessed, problems = self.read_traces(sent)
        self.assertEqual([], unprocessed, "UnprocessedTraceIds")
        self.assert_no_problems(problems, "BatchGetTraces vs. the replayed datagrams")

        # The captures made at 0x6b012c3b..0x6b012c4f; the other traces have 2016 epochs.
        start, end = 0x6b012c3b, 0x6b012c4f + 1
        in_window = sorted(t for t in sent if start <= int(t.split("-")[1], 16) < end)
        summaries = self.read_summaries(start, end, in_window)
        self.assertEqual(in_window, sorted(summaries))
        self.assert_no_problems({t: summary_problems(summaries[t], sent[t]) for t in in_window},
                                "TraceSummaries vs. the replayed datagrams")

    def test_5_sigterm_exits_cleanly(self):
        self.waggle.terminate()


def _comparable(traces):
    """Traces by id with Document strings replaced by parsed documents, keyed by segment id."""
    return {
        trace_id: {
            "Duration": trace.get("Duration"),
            "LimitExceeded": trace.get("LimitExceeded"),
            "Segments": {s["Id"]: s["Doc"] for s in trace.get("Segments", [])},
        }
        for trace_id, trace in traces.items()
    }


if __name__ == "__main__":
    h.main(sys.modules[__name__])
