#!/usr/bin/python3
"""End-to-end: X-Ray filter expressions and groups with Debian's AWS CLI against `waggle serve`.

    /usr/bin/python3 test/e2e/xray_api_test.py --waggle build/waggle [unittest args, e.g. -v]

The tests write traces with `aws xray put-trace-segments` (a Flask-like front service calling a
user service and DynamoDB, some slow, some failing, with annotations and users), then ask for
them with `aws xray get-trace-summaries --filter-expression ...` and manage groups with
create-group, get-group, get-groups, update-group and delete-group, as the captured CLI bodies of
test/testdata/awscli-xray-requests.txt do. Every expected answer is computed in this file
from the documents sent, not from waggle.
"""

import json
import random
from datetime import datetime
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

WAGGLE_BIN = None  # set by h.main() from --waggle / $WAGGLE_BIN
TRACES = 40
# The CLI's first body in awscli-xray-requests.txt: the group every Cruddur tutorial creates.
CRUDDUR_FILTER = 'service("backend-flask")'


def in_sample(trace_id, rate):
    """Whether GetTraceSummaries' FixedRate sampling keeps the trace: the id's 16 bytes as two
    little-endian 64-bit halves, mixed (SplitMix64's finalizer), as a fraction below `rate`."""
    raw = bytes.fromhex(trace_id[2:10] + trace_id[11:])
    mask = (1 << 64) - 1
    a, b = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")
    x = a ^ ((b * 0x9E3779B97F4A7C15) & mask)
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    x ^= x >> 31
    return (x >> 11) * 2.0 ** -53 < rate


def hex_id(rng, digits):
    return "".join(rng.choice("0123456789abcdef") for _ in range(digits))


def make_traces(now):
    """TRACES traces, one a second ending a minute ago, each {id, docs, facts}.

    Trace i: backend-flask serves GET /api/activities/<i> and calls user-service (instrumented,
    its own segment) and DynamoDB table "activities" (not instrumented). Every 4th trace is slow
    (user-service takes 2 s), every 5th faults in user-service (502 at the root), every 7th
    comes from the OTel-only "frontend" instead (no backend-flask). Users alternate.
    """
    rng = random.Random(7)
    traces = []
    for i in range(TRACES):
        start = now - 60 - (TRACES - i)
        trace_id = "1-%08x-%s" % (int(start), hex_id(rng, 24))
        slow = i % 4 == 0
        fault = i % 5 == 0
        service = "frontend" if i % 7 == 0 else "backend-flask"
        user = "andrew" if i % 2 else "bob"
        root_id, call_id, dynamo_id, user_seg_id = (hex_id(rng, 16) for _ in range(4))
        user_time = 2.0 if slow else 0.05
        root_end = start + user_time + 0.2
        status = 502 if fault else 200
        root = {
            "trace_id": trace_id, "id": root_id, "name": service,
            "start_time": start, "end_time": root_end,
            "http": {"request": {"method": "GET", "url": "http://localhost:4567/api/activities/%d" % i},
                     "response": {"status": status}},
            "user": user,
            "annotations": {"seq": i, "segment": "gold" if i % 3 == 0 else "free"},
            "subsegments": [
                {"id": call_id, "name": "user-service", "namespace": "remote",
                 "start_time": start + 0.1, "end_time": start + 0.1 + user_time,
                 "http": {"request": {"method": "GET", "url": "http://user-service/users"},
                          "response": {"status": status}},
                 **({"fault": True} if fault else {})},
                {"id": dynamo_id, "name": "DynamoDB", "namespace": "aws",
                 "start_time": start + 0.15, "end_time": start + 0.18,
                 "aws": {"operation": "Query", "table_name": "activities"}},
            ],
        }
        if fault:
            root["fault"] = True
        user_segment = {
            "trace_id": trace_id, "id": user_seg_id, "name": "user-service",
            "parent_id": call_id, "start_time": start + 0.11, "end_time": start + 0.09 + user_time,
            "http": {"request": {"method": "GET", "url": "http://user-service/users"},
                     "response": {"status": 500 if fault else 200}},
        }
        if fault:
            user_segment["fault"] = True
        traces.append({
            "id": trace_id,
            "docs": [root, user_segment],
            "facts": {
                "service": service, "slow": slow, "fault": fault, "user": user, "seq": i,
                "gold": i % 3 == 0, "duration": root_end - start,
                "responsetime": root_end - start,
            },
        })
    return traces


class XRayApiFilters(h.ServerTestCase):
    """One server for the class, loaded once with make_traces()."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = time.time()
        cls.traces = make_traces(cls.now)
        docs = [json.dumps(d) for t in cls.traces for d in t["docs"]]
        for at in range(0, len(docs), 20):
            out = cls.aws("xray", "put-trace-segments", "--trace-segment-documents",
                          *docs[at:at + 20])
            assert out.get("UnprocessedTraceSegments") == [], out

    def summaries(self, expression=None, more=()):
        """The ids get-trace-summaries lists over the last 5 minutes (the CLI follows NextToken)."""
        args = ["--start-time", int(self.now - 300), "--end-time", int(self.now) + 1, *more]
        if expression is not None:
            args += ["--filter-expression", expression]
        out = self.aws("xray", "get-trace-summaries", *args)
        return out["TraceSummaries"]

    def ids(self, expression=None):
        return sorted(s["Id"] for s in self.summaries(expression))

    def expect(self, predicate):
        return sorted(t["id"] for t in self.traces if predicate(t["facts"]))

    def assertFinds(self, expression, predicate):
        want = self.expect(predicate)
        self.assertTrue(want, "the expectation selects nothing: a useless check")
        self.assertEqual(self.ids(expression), want, expression)

    def test_1_every_trace_is_listed_without_a_filter(self):
        done, ids = h.wait_until(lambda: (len(ids := self.ids()) == TRACES, ids), 30)
        self.assertEqual(ids, sorted(t["id"] for t in self.traces))

    def test_2_trace_level_keywords(self):
        self.assertFinds("fault", lambda f: f["fault"])
        self.assertFinds("!fault", lambda f: not f["fault"])
        self.assertFinds("responsetime > 1", lambda f: f["slow"])
        self.assertFinds("duration >= 1 AND duration <= 3 AND ok", lambda f: f["slow"] and not f["fault"])
        self.assertFinds("http.status = 502", lambda f: f["fault"])
        self.assertFinds('http.url ENDSWITH "/api/activities/12"', lambda f: f["seq"] == 12)
        self.assertFinds('http.url CONTAINS "/api/activities/1"',
                         lambda f: str(f["seq"]).startswith("1"))
        self.assertFinds('user = "andrew"', lambda f: f["user"] == "andrew")
        self.assertFinds('user CONTAINS ""', lambda f: True)
        self.assertFinds('annotation.segment = "gold" AND annotation.seq >= 20',
                         lambda f: f["gold"] and f["seq"] >= 20)
        self.assertFinds("annotation.seq < 5 OR annotation.seq = 39",
                         lambda f: f["seq"] < 5 or f["seq"] == 39)
        self.assertFinds("inferred", lambda f: True)  # the DynamoDB table

    def test_3_service_and_edge(self):
        # The captured CLI body of awscli-xray-requests.txt.
        self.assertFinds('service("backend-flask") AND duration > 1',
                         lambda f: f["service"] == "backend-flask" and f["slow"])
        self.assertFinds(CRUDDUR_FILTER, lambda f: f["service"] == "backend-flask")
        self.assertFinds('!service("backend-flask")', lambda f: f["service"] != "backend-flask")
        self.assertFinds('service("user-service") { fault }', lambda f: f["fault"])
        self.assertFinds('service("frontend") { root = true AND responsetime > 1 }',
                         lambda f: f["service"] == "frontend" and f["slow"])
        self.assertFinds('edge("backend-flask", "user-service") { responsetime > 1 }',
                         lambda f: f["service"] == "backend-flask" and f["slow"])
        self.assertFinds('service(id(name: "activities", type: "AWS::DynamoDB::Table"))',
                         lambda f: True)
        self.assertFinds('rootcause.fault.service { name = "user-service" }', lambda f: f["fault"])
        self.assertEqual(self.ids('service("nobody")'), [])

    def test_3b_sampling(self):
        """--sampling with FixedRate keeps the traces a hash of the id picks (worked out here the
        way docs/query-language.md says), the same on every call; PartialScan 1 keeps all."""
        def sampled(rate):
            return sorted(s["Id"] for s in self.summaries(more=(
                "--sampling", "--sampling-strategy", "Name=FixedRate,Value=%s" % rate)))
        half = sampled(0.5)
        want = sorted(t["id"] for t in self.traces if in_sample(t["id"], 0.5))
        self.assertTrue(0 < len(want) < TRACES, "the sample should keep some, not all")
        self.assertEqual(half, want)
        self.assertEqual(sampled(0.5), half)
        self.assertEqual(sampled(0), [])
        every = self.summaries(more=("--sampling", "--sampling-strategy", "Name=PartialScan,Value=1"))
        self.assertEqual(sorted(s["Id"] for s in every), sorted(t["id"] for t in self.traces))
        with self.assertRaises(h.AwsCliError) as caught:
            self.summaries(more=("--sampling", "--sampling-strategy", "Name=FixedRate,Value=1.5"))
        self.assertIn("InvalidRequestException", caught.exception.stderr)

    def test_4_a_bad_expression_is_refused_naming_the_position(self):
        with self.assertRaises(h.AwsCliError) as caught:
            self.summaries('service("backend-flask") AND duration >')
        self.assertIn("InvalidRequestException", caught.exception.stderr)
        self.assertIn("position 40", caught.exception.stderr)

    def test_5_groups(self):
        aws = self.aws
        created = aws("xray", "create-group", "--group-name", "Cruddur",
                      "--filter-expression", CRUDDUR_FILTER)
        group = created["Group"]
        self.assertEqual(group["GroupName"], "Cruddur")
        self.assertEqual(group["FilterExpression"], CRUDDUR_FILTER)
        self.assertRegex(group["GroupARN"],
                         r"^arn:aws:xray:us-east-1:\d{12}:group/Cruddur/[A-Z2-7]{52}$")
        self.assertEqual(group["InsightsConfiguration"],
                         {"InsightsEnabled": False, "NotificationsEnabled": False})

        listed = aws("xray", "get-groups")["Groups"]
        self.assertEqual([g["GroupName"] for g in listed], ["Default", "Cruddur"])
        self.assertNotIn("FilterExpression", listed[0])

        self.assertFinds('group.name = "Cruddur" AND fault',
                         lambda f: f["service"] == "backend-flask" and f["fault"])
        self.assertFinds('group.arn = "%s"' % group["GroupARN"],
                         lambda f: f["service"] == "backend-flask")

        for args, code in [
            (["create-group", "--group-name", "Cruddur"], "InvalidRequestException"),
            (["create-group", "--group-name", "bad name"], "InvalidRequestException"),
            (["create-group", "--group-name", "x", "--filter-expression", "fault >"],
             "InvalidRequestException"),
            (["get-group", "--group-name", "nope"], "InvalidRequestException"),
            (["delete-group", "--group-name", "Default"], "InvalidRequestException"),
        ]:
            with self.assertRaises(h.AwsCliError, msg=args) as caught:
                aws("xray", *args)
            self.assertIn(code, caught.exception.stderr)

        updated = aws("xray", "update-group", "--group-name", "Cruddur",
                      "--filter-expression", 'service("backend-flask") { fault }',
                      "--insights-configuration", "InsightsEnabled=true")["Group"]
        self.assertEqual(updated["FilterExpression"], 'service("backend-flask") { fault }')
        self.assertTrue(updated["InsightsConfiguration"]["InsightsEnabled"])
        got = aws("xray", "get-group", "--group-arn", group["GroupARN"])["Group"]
        self.assertEqual(got, updated)
        self.assertFinds('group.name = "Cruddur"',
                         lambda f: f["service"] == "backend-flask" and f["fault"])

        # Groups are kept in the data dir.
        self.waggle.terminate()
        self.waggle.start().wait_ready()
        self.assertEqual(aws("xray", "get-group", "--group-name", "Cruddur")["Group"], updated)

        self.assertEqual(aws("xray", "delete-group", "--group-name", "Cruddur"), {})
        self.assertEqual([g["GroupName"] for g in aws("xray", "get-groups")["Groups"]],
                         ["Default"])
        with self.assertRaises(h.AwsCliError) as caught:
            self.summaries('group.name = "Cruddur"')
        self.assertIn("no group 'Cruddur'", caught.exception.stderr)

    def test_6_service_graph(self):
        out = self.aws("xray", "get-service-graph", "--start-time", int(self.now - 300),
                       "--end-time", int(self.now) + 1)
        services = out["Services"]
        by_ref = {s["ReferenceId"]: s for s in services}
        self.assertEqual(len(by_ref), len(services), "ReferenceIds are unique")

        def node(name, type_=None):
            found = [s for s in services if s["Name"] == name and s.get("Type") == type_]
            self.assertEqual(len(found), 1, "%s/%s in %s" % (name, type_, json.dumps(services)))
            return found[0]

        def edge(src, dst):
            found = [e for e in src["Edges"] if e["ReferenceId"] == dst["ReferenceId"]]
            self.assertEqual(len(found), 1, "%s -> %s" % (src["Name"], dst["Name"]))
            return found[0]["SummaryStatistics"], found[0]

        facts = [t["facts"] for t in self.traces]
        for root in ("backend-flask", "frontend"):
            mine = [f for f in facts if f["service"] == root]
            faults = sum(f["fault"] for f in mine)
            service = node(root)
            self.assertTrue(service["Root"])
            self.assertEqual(service["State"], "active")
            self.assertEqual(service["SummaryStatistics"]["TotalCount"], len(mine))
            self.assertEqual(service["SummaryStatistics"]["FaultStatistics"]["TotalCount"], faults)
            self.assertEqual(service["SummaryStatistics"]["OkCount"], len(mine) - faults)
            self.assertEqual(sum(b["Count"] for b in service["DurationHistogram"]), len(mine))
            client = node(root, "client")
            self.assertEqual(client["State"], "unknown")
            self.assertNotIn("SummaryStatistics", client)
            stats, _ = edge(client, service)
            self.assertEqual(stats["TotalCount"], len(mine))
            self.assertEqual(stats["FaultStatistics"]["TotalCount"], faults)
            stats, _ = edge(service, node("user-service"))
            self.assertEqual(stats["TotalCount"], len(mine))
            self.assertEqual(stats["FaultStatistics"]["TotalCount"], faults)
            self.assertAlmostEqual(stats["TotalResponseTime"],
                                   sum(2.0 if f["slow"] else 0.05 for f in mine), places=3)
            table = node("activities", "AWS::DynamoDB::Table")
            stats, raw = edge(service, table)
            self.assertEqual(stats["TotalCount"], len(mine))
            self.assertEqual([a["Name"] for a in raw["Aliases"]], ["DynamoDB"])
        users = node("user-service")
        self.assertFalse(users["Root"])
        self.assertEqual(users["SummaryStatistics"]["TotalCount"], TRACES)
        self.assertEqual(users["SummaryStatistics"]["FaultStatistics"]["TotalCount"],
                         sum(f["fault"] for f in facts))
        self.assertEqual(node("activities", "AWS::DynamoDB::Table")["State"], "unknown")
        self.assertEqual(len(services), 6)

        # A group narrows the graph to its traces.
        self.aws("xray", "create-group", "--group-name", "front", "--filter-expression",
                 'service("frontend")')
        grouped = self.aws("xray", "get-service-graph", "--start-time", int(self.now - 300),
                           "--end-time", int(self.now) + 1, "--group-name", "front")["Services"]
        self.assertEqual(sorted((s["Name"], s.get("Type", "")) for s in grouped),
                         sorted([("frontend", ""), ("frontend", "client"),
                                 ("user-service", ""),
                                 ("activities", "AWS::DynamoDB::Table")]))
        self.aws("xray", "delete-group", "--group-name", "front")

        # The graph of chosen traces.
        one = self.traces[1]
        graph = self.aws("xray", "get-trace-graph", "--trace-ids", one["id"])["Services"]
        self.assertEqual(sorted((s["Name"], s.get("Type", "")) for s in graph),
                         sorted([("backend-flask", ""), ("backend-flask", "client"),
                                 ("user-service", ""),
                                 ("activities", "AWS::DynamoDB::Table")]))

    def test_6b_time_series_service_statistics(self):
        start, end = int(self.now - 300), int(self.now) + 1
        facts = [t["facts"] for t in self.traces]
        # When each trace's user-service segment and its root started (make_traces).
        first = self.now - 60 - TRACES

        def period_of(seconds):
            return start + (int(seconds) - start) // 60 * 60

        def series(selector=None, period=60):
            args = ["--start-time", start, "--end-time", end, "--period", period]
            if selector is not None:
                args += ["--entity-selector-expression", selector]
            return self.aws("xray", "get-time-series-service-statistics",
                            *args)["TimeSeriesServiceStatistics"]

        def totals(points, key):
            out = {}
            for p in points:
                stats = p[key]
                self.assertEqual(stats["TotalCount"], stats["OkCount"] +
                                 stats["ErrorStatistics"]["TotalCount"] +
                                 stats["FaultStatistics"]["TotalCount"])
                self.assertEqual(sum(b["Count"] for b in p["ResponseTimeHistogram"]),
                                 stats["TotalCount"])
                # The CLI prints timestamps in ISO 8601.
                at = int(datetime.fromisoformat(p["Timestamp"]).timestamp())
                out[at] = (stats["TotalCount"],
                                            stats["FaultStatistics"]["TotalCount"])
            return out

        def expected(pick, offset):
            out = {}
            for i, f in enumerate(facts):
                if not pick(f):
                    continue
                at = period_of(first + i + offset)
                total, faults = out.get(at, (0, 0))
                out[at] = (total + 1, faults + f["fault"])
            return out

        # One service: user-service's own segments, each counted in the minute it started.
        self.assertEqual(totals(series('service("user-service")'), "ServiceSummaryStatistics"),
                         expected(lambda f: True, 0.11))
        self.assertEqual(totals(series('id(name: "user-service")'), "ServiceSummaryStatistics"),
                         expected(lambda f: True, 0.11))
        # One edge, timed by the caller's subsegments.
        self.assertEqual(
            totals(series('edge("backend-flask", "user-service")'), "EdgeSummaryStatistics"),
            expected(lambda f: f["service"] == "backend-flask", 0.1))
        # No selector: clients' requests to the root services.
        self.assertEqual(totals(series(), "EdgeSummaryStatistics"), expected(lambda f: True, 0))
        # Five-minute periods add the minutes up.
        five = totals(series('service("user-service")', 300), "ServiceSummaryStatistics")
        self.assertEqual(sum(t for t, _ in five.values()), TRACES)
        self.assertEqual(series('service("nobody")'), [])

        with self.assertRaises(h.AwsCliError) as caught:
            series('service("user-service") { ok }')
        self.assertIn("InvalidRequestException", caught.exception.stderr)
        self.assertIn("position 27", caught.exception.stderr)
        with self.assertRaises(h.AwsCliError) as caught:
            series(period=90)
        self.assertIn("Period must be a multiple of 60", caught.exception.stderr)

    def test_7_sampling_rules(self):
        aws = self.aws
        # The body of `aws xray create-sampling-rule --cli-input-json` in awscli-xray-requests.txt.
        rule_file = Path(self.workdir) / "xray.json"
        rule_file.write_text(json.dumps({"SamplingRule": {
            "RuleName": "Cruddur", "ResourceARN": "*", "Priority": 9000, "FixedRate": 0.1,
            "ReservoirSize": 5, "ServiceName": "backend-flask", "ServiceType": "*", "Host": "*",
            "HTTPMethod": "*", "URLPath": "*", "Version": 1}}))
        before = time.time()
        record = aws("xray", "create-sampling-rule", "--cli-input-json",
                     "file://%s" % rule_file)["SamplingRuleRecord"]
        rule = record["SamplingRule"]
        self.assertEqual(rule["RuleARN"], "arn:aws:xray:us-east-1:000000000000:sampling-rule/Cruddur")
        self.assertEqual((rule["Priority"], rule["FixedRate"], rule["ReservoirSize"]), (9000, 0.1, 5))
        self.assertEqual(rule["Attributes"], {})
        self.assertEqual(record["CreatedAt"], record["ModifiedAt"])

        listed = aws("xray", "get-sampling-rules")["SamplingRuleRecords"]
        self.assertEqual([r["SamplingRule"]["RuleName"] for r in listed], ["Cruddur", "Default"])

        # What the SDKs poll on the daemon port (unsigned) sees it, and LastRuleModification moved.
        status, _, body = h.http_request("POST", self.waggle.xray_endpoint + "/SamplingTargets",
                                         json.dumps({"SamplingStatisticsDocuments": [{
                                             "RuleName": "Cruddur", "ClientID": "a" * 24,
                                             "Timestamp": int(time.time()), "RequestCount": 10,
                                             "SampledCount": 2, "BorrowCount": 0}]}).encode())
        self.assertEqual(status, 200)
        targets = json.loads(body)
        self.assertGreaterEqual(targets["LastRuleModification"], int(before))
        self.assertEqual(targets["SamplingTargetDocuments"][0]["ReservoirQuota"], 5)

        for args in (["create-sampling-rule", "--cli-input-json", "file://%s" % rule_file],
                     ["delete-sampling-rule", "--rule-name", "Default"],
                     ["delete-sampling-rule", "--rule-name", "nope"],
                     ["update-sampling-rule", "--sampling-rule-update",
                      '{"RuleName": "Cruddur", "FixedRate": 2}']):
            with self.assertRaises(h.AwsCliError, msg=args) as caught:
                aws("xray", *args)
            self.assertIn("InvalidRequestException", caught.exception.stderr)

        updated = aws("xray", "update-sampling-rule", "--sampling-rule-update",
                      '{"RuleName": "Cruddur", "FixedRate": 0, "ReservoirSize": 0}')
        rule = updated["SamplingRuleRecord"]["SamplingRule"]
        self.assertEqual((rule["FixedRate"], rule["ReservoirSize"], rule["ServiceName"]),
                         (0, 0, "backend-flask"))

        self.waggle.terminate()
        self.waggle.start().wait_ready()
        listed = aws("xray", "get-sampling-rules")["SamplingRuleRecords"]
        self.assertEqual(listed[0]["SamplingRule"], rule)

        deleted = aws("xray", "delete-sampling-rule", "--rule-name", "Cruddur")
        self.assertEqual(deleted["SamplingRuleRecord"]["SamplingRule"]["RuleName"], "Cruddur")
        self.assertEqual([r["SamplingRule"]["RuleName"]
                          for r in aws("xray", "get-sampling-rules")["SamplingRuleRecords"]],
                         ["Default"])

    def test_9_log_is_clean(self):
        h.assert_clean_log(self, self.waggle)


if __name__ == "__main__":
    h.main(sys.modules[__name__])
