#!/usr/bin/python3
"""End-to-end: centralized sampling of the AWS X-Ray SDK for Node.js against `waggle serve`.

    /usr/bin/python3 test/e2e/xray_sampling_test.py --waggle build/waggle [unittest args, e.g. -v]

Client: node/xray_sampling.js, a plain Node `http` service traced by npm `aws-xray-sdk-core`
(its framework-less middleware, centralized sampling, daemon address = waggle's X-Ray port), which
sends itself requests at a steady rate and reports, for a window of whole epoch seconds, how many
requests the SDK decided on and how many it sampled, second by second, with the sampled trace
ids and every GetSamplingRules / SamplingTargets exchange it had with the daemon port. Rules are
created with Debian's AWS CLI (`create-sampling-rule --cli-input-json`), all with ReservoirSize 5
and FixedRate 0.1, and the sampled traces are read back with get-trace-summaries and
batch-get-traces.

What "the count the rule implies" is, per second with n requests and r reserved: r = min(R, n)
sampled by the reservoir, plus Binomial(n - r, FixedRate) for the rest (spec/xray.md §4.4). R
depends on the client:
  as shipped   aws-xray-sdk-core 3.x reads ReservoirQuotaTTL (epoch seconds) as milliseconds, so
               the quota waggle assigns always looks expired and the SDK borrows 1 request a
               second instead (spec §8 item 19; it does the same against AWS): R = 1.
  TTL read as seconds (xray_sampling.js --quota-ttl-in-seconds undoes that one conversion):
               the SDK's reservoir takes the assigned quota, R = ReservoirSize = 5.
  fleet        two such processes (two ClientIDs) at once on one rule: waggle splits the
               ReservoirSize across them (§4.8), so together R = 5, not 2 x 5.
The four processes run at the same time so that the file stays near one minute, on three rules
(the fleet's two processes share one; waggle's split is per rule). The bounds are stated at each assertion. Each process's
report is saved as node-<run>.out in the temp dir (WAGGLE_E2E_KEEP=1 keeps it). Last, with the
runs over, a rule is deleted and a raw POST /SamplingTargets must report the deletion in
LastRuleModification (what the Go and Python SDKs refresh their rules on).
"""

import json
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

WAGGLE_BIN = None  # set by h.main() from --waggle / $WAGGLE_BIN

RESERVOIR_SIZE = 5
FIXED_RATE = 0.1
# The single-process runs: 50 requests a second, a 30 s window once the SDK has a target.
RATE = 50
WINDOW = 30
# The fleet: 20 requests a second each (a low rate keeps the binomial noise small next to the
# reservoir, so split and un-split reservoirs are far apart), a shared 30 s window starting
# FLEET_LEAD s after launch: by then each process has had two SamplingTargets answers (at about
# 10 s and 20 s after its first request), the second computed with both clients known.
FLEET_RATE = 20
FLEET_WINDOW = 30
FLEET_LEAD = 27
# Bounds: the mean +- SIGMAS standard deviations of the binomial part (each bound is crossed by
# chance about once in 30,000 runs), widened by BOUNDARY_SLACK for the rare decision that the
# program files under the second before or after the sampler's own clock read.
SIGMAS = 4
BOUNDARY_SLACK = 3
DATA_TIMEOUT = 20.0  # seconds sampled segments (UDP) get to become visible through the API
NODE_TIMEOUT = 150.0

# name -> (rule, service, xray_sampling.js arguments besides --daemon/--rule/--service)
RUNS = {
    "as_shipped": ("Steady", "sampled-service",
                   ["--rate", RATE, "--window", WINDOW, "--min-targets", 1]),
    "ttl_in_seconds": ("Honoured", "quota-service",
                       ["--rate", RATE, "--window", WINDOW, "--min-targets", 1,
                        "--quota-ttl-in-seconds"]),
    "fleet_a": ("Fleet", "fleet-service",
                ["--rate", FLEET_RATE, "--window", FLEET_WINDOW, "--quota-ttl-in-seconds"]),
    "fleet_b": ("Fleet", "fleet-service",
                ["--rate", FLEET_RATE, "--window", FLEET_WINDOW, "--quota-ttl-in-seconds"]),
}


def expectation(per_second, reserved_per_second):
    """(mean, standard deviation, reserved, rest) of the sampled count over seconds with the
    request counts `per_second`: min(R, n) reserved a second, Binomial(rest, FIXED_RATE) else."""
    reserved = sum(min(reserved_per_second, n) for n in per_second)
    rest = sum(per_second) - reserved
    return (reserved + FIXED_RATE * rest, math.sqrt(rest * FIXED_RATE * (1 - FIXED_RATE)),
            reserved, rest)


def bounds(mean, sd):
    half = SIGMAS * sd + BOUNDARY_SLACK
    return mean - half, mean + half


def target_exchanges(run):
    """The run's SamplingTargets exchanges up to the end of its window, in order (one started
    while the program winds down may not have its answer yet)."""
    return [c for c in run["sampling_calls"]
            if c["path"] == "/SamplingTargets" and c["sent_at"] < run["window_end"]]


def quota_of(exchange, rule):
    for doc in exchange["response"]["SamplingTargetDocuments"]:
        if doc["RuleName"] == rule:
            return doc["ReservoirQuota"]
    return None


def describe(run):
    """A compact account of a run for failure messages."""
    return json.dumps({
        "client_id": run["client_id"], "window": [run["window_start"], run["window_end"]],
        "requests": run["requests"], "sampled": run["sampled"],
        "per_second [second, requests, sampled]": run["per_second"],
        "targets [answered at - window start, RequestCount, BorrowCount, SampledCount, quota]": [
            [round(c["answered_at"] - run["window_start"], 2)]
            + [c["request"]["SamplingStatisticsDocuments"][0][k]
               for k in ("RequestCount", "BorrowCount", "SampledCount")]
            + [quota_of(c, run["rule"])] for c in target_exchanges(run) if "response" in c],
        "sdk_log": run["sdk_log"], "error": run["error"],
    })


class NodeSdkCentralizedSampling(h.ServerTestCase):
    """One server; the rules are created, then the four Node processes run at once."""

    workdir_prefix = "waggle-e2e-sampling-"
    otlp = False

    @classmethod
    def setUpClass(cls):
        h.require_node_clients()
        super().setUpClass()
        cls.created = {}
        for priority, (rule, service) in enumerate(
                dict.fromkeys((r, s) for r, s, _ in RUNS.values()), start=1):
            record = cls.aws("xray", "create-sampling-rule", "--cli-input-json", json.dumps({
                "SamplingRule": {
                    "RuleName": rule, "ResourceARN": "*", "Priority": priority,
                    "FixedRate": FIXED_RATE, "ReservoirSize": RESERVOIR_SIZE,
                    "ServiceName": service, "ServiceType": "*", "Host": "*", "HTTPMethod": "*",
                    "URLPath": "*", "Version": 1}}))["SamplingRuleRecord"]
            cls.created[rule] = record
        # The CLI shows the epoch numbers of the wire as ISO-8601 strings.
        cls.last_modification = max(datetime.fromisoformat(r["ModifiedAt"]).timestamp()
                                    for r in cls.created.values())

        daemon = "%s:%d" % cls.waggle.xray_udp_address
        fleet_start = int(time.time()) + FLEET_LEAD

        def launch(name):
            rule, service, extra = RUNS[name]
            args = ["--daemon", daemon, "--rule", rule, "--service", service, *extra]
            if name.startswith("fleet"):
                args += ["--start-at", fleet_start]
            run = h.run_node("xray_sampling.js", args, timeout=NODE_TIMEOUT)
            (cls.workdir / ("node-%s.out" % name)).write_text(run.stdout + run.stderr)
            return run

        with ThreadPoolExecutor(len(RUNS)) as pool:
            cls.node_runs = dict(zip(RUNS, pool.map(launch, RUNS)))

    def run_of(self, name):
        """The JSON report of run `name`; fails the test unless the process succeeded."""
        run = self.node_runs[name]
        if run.returncode != 0 or run.output is None or run.output.get("error"):
            self.fail("xray_sampling.js (%s) failed\n%s\n%s"
                      % (name, run.describe(), self.waggle.log_tail(30)))
        return run.output

    def assertSteady(self, run, rate, window):
        """The window saw the intended load: `rate` requests a second, give or take a second's."""
        self.assertLessEqual(abs(run["requests"] - rate * window), rate,
                             "not a steady %d requests/s\n%s" % (rate, describe(run)))

    def assertSampledWithin(self, sampled, per_second, reserved_per_second, what, run_text):
        mean, sd, reserved, rest = expectation(per_second, reserved_per_second)
        low, high = bounds(mean, sd)
        self.assertTrue(
            low <= sampled <= high,
            "%s: sampled %d of %d requests in the window; expected %d reserved (%d a second) + "
            "Binomial(%d, %.2f) = mean %.1f, sd %.1f, bounds mean +- (%d sd + %d) = [%.1f, %.1f]"
            "\n%s" % (what, sampled, sum(per_second), reserved, reserved_per_second, rest,
                      FIXED_RATE, mean, sd, SIGMAS, BOUNDARY_SLACK, low, high, run_text))
        return mean, sd

    # ---- the daemon port's sampling API as the SDK sees it

    def test_1_rules_and_targets_over_the_daemon_port(self):
        for name, (rule, service, _) in RUNS.items():
            run = self.run_of(name)
            with self.subTest(run=name):
                self.assertEqual(run["sdk_log"], [], "the SDK logged warnings or errors")
                self.assertRegex(run["client_id"], r"^[0-9a-f]{24}$")
                rule_calls = [c for c in run["sampling_calls"] if c["path"] == "/GetSamplingRules"]
                self.assertTrue(rule_calls, "the SDK never asked for sampling rules")
                for call in rule_calls:
                    self.assertEqual(call.get("status"), 200, call)
                    served = {r["SamplingRule"]["RuleName"]: r["SamplingRule"]
                              for r in call["response"]["SamplingRuleRecords"]}
                    self.assertEqual(served.get(rule), self.created[rule]["SamplingRule"])
                    self.assertIn("Default", served)

                exchanges = target_exchanges(run)
                self.assertGreaterEqual(len(exchanges), 2, describe(run))
                for call in exchanges:
                    self.assertEqual(call.get("status"), 200, call)
                    stats = call["request"]["SamplingStatisticsDocuments"]
                    self.assertEqual([(d["RuleName"], d["ClientID"]) for d in stats],
                                     [(rule, run["client_id"])])
                    answer = call["response"]
                    self.assertEqual(answer["UnprocessedStatistics"], [])
                    # The time of the last rule change (the last create-sampling-rule), not "now".
                    self.assertAlmostEqual(answer["LastRuleModification"],
                                           self.last_modification, delta=1e-3)
                    (target,) = answer["SamplingTargetDocuments"]
                    self.assertEqual((target["RuleName"], target["FixedRate"], target["Interval"]),
                                     (rule, FIXED_RATE, 10))
                    self.assertGreater(target["ReservoirQuotaTTL"], call["answered_at"], call)
                    self.assertLessEqual(target["ReservoirQuotaTTL"], call["answered_at"] + 301)
                # The SDK reports every 10 s (Interval 10 => its report interval stays 1 cycle;
                # a busy machine may delay a timer a little).
                gaps = [b["sent_at"] - a["sent_at"] for a, b in zip(exchanges, exchanges[1:])]
                self.assertTrue(all(9.5 <= g <= 13 for g in gaps), gaps)
                if not name.startswith("fleet"):
                    # A client alone on its rule gets the whole reservoir.
                    self.assertEqual({quota_of(c, rule) for c in exchanges}, {RESERVOIR_SIZE},
                                     describe(run))

    # ---- sampled counts

    def test_2_sdk_as_shipped_borrows_one_a_second_plus_fixed_rate(self):
        run = self.run_of("as_shipped")
        self.assertSteady(run, RATE, WINDOW)
        per_second = [n for _, n, _ in run["per_second"]]
        # aws-xray-sdk-core 3.x never uses the quota (spec §8 item 19): 1 borrowed a second, then
        # FixedRate. At 50/s over 30 s: mean 30 + 0.1 * 1470 = 177, sd 11.5, bounds about
        # [128, 226] (the quota's 5/s would be about [238, 332]).
        self.assertSampledWithin(run["sampled"], per_second, 1, "SDK as shipped", describe(run))
        # Every second borrows one.
        self.assertEqual([s for s, n, k in run["per_second"] if n and k < 1], [], describe(run))
        # The SDK's own reports during the window say so: borrowed, although quota 5 was given.
        in_window = [c for c in target_exchanges(run) if c["sent_at"] >= run["window_start"] + 1]
        self.assertTrue(in_window, describe(run))
        for call in in_window:
            self.assertGreater(call["request"]["SamplingStatisticsDocuments"][0]["BorrowCount"], 0,
                               describe(run))
        self.assertEqual(run["window_rule_names"], {"Steady": run["sampled"]})

    def test_3_reservoir_quota_when_the_ttl_is_read_as_seconds(self):
        run = self.run_of("ttl_in_seconds")
        self.assertSteady(run, RATE, WINDOW)
        per_second = [n for _, n, _ in run["per_second"]]
        # The rule: 5/s from the reservoir, then FixedRate 0.1. At 50/s over 30 s: mean
        # 150 + 0.1 * 1350 = 285, sd 11.0, bounds about [238, 332].
        self.assertSampledWithin(run["sampled"], per_second, RESERVOIR_SIZE,
                                 "SDK with the quota TTL read as seconds", describe(run))
        # The reservoir part is exact: every second samples at least min(5, its requests).
        self.assertEqual([s for s, n, k in run["per_second"] if k < min(RESERVOIR_SIZE, n)], [],
                         "seconds that sampled fewer than the reservoir\n%s" % describe(run))
        for call in target_exchanges(run):
            if call["sent_at"] >= run["window_start"] + 1:
                self.assertEqual(call["request"]["SamplingStatisticsDocuments"][0]["BorrowCount"],
                                 0, "borrowed although it held a quota\n%s" % describe(run))
        self.assertEqual(run["window_rule_names"], {"Honoured": run["sampled"]})

    def test_4_fleet_shares_one_reservoir(self):
        a, b = self.run_of("fleet_a"), self.run_of("fleet_b")
        text = "fleet_a %s\nfleet_b %s" % (describe(a), describe(b))
        self.assertNotEqual(a["client_id"], b["client_id"])
        self.assertEqual((a["window_start"], a["window_end"]), (b["window_start"], b["window_end"]))
        for run in (a, b):
            self.assertSteady(run, FLEET_RATE, FLEET_WINDOW)
            self.assertGreaterEqual(run["targets_before_window"], 2,
                                    "not warm when the window started (FLEET_LEAD too short?)\n"
                                    + text)
            # The first answer may be the whole 5 (the other client had not reported yet);
            # every later one is this client's share of 5 between two equally busy clients.
            quotas = [quota_of(c, "Fleet") for c in target_exchanges(run)]
            self.assertTrue(set(quotas[1:]) <= {2, 3},
                            "quotas %s: the reservoir is not split\n%s" % (quotas, text))
        per_second = [x[1] + y[1] for x, y in zip(a["per_second"], b["per_second"])]
        sampled = a["sampled"] + b["sampled"]
        # Together 5/s from the reservoir, then FixedRate 0.1. At 2 x 20/s over 30 s: mean
        # 150 + 0.1 * 1050 = 255, sd 9.7, bounds about [213, 297].
        self.assertSampledWithin(sampled, per_second, RESERVOIR_SIZE, "fleet of two", text)
        # Two un-split reservoirs would sample 10/s + 0.1 of the rest: mean 300 + 90 = 390,
        # sd 9.0. The fleet's count must lie below that mean - 4 sd (about 354).
        mean, sd, _, _ = expectation(per_second, 2 * RESERVOIR_SIZE)
        self.assertLess(sampled, mean - SIGMAS * sd,
                        "the fleet sampled like two un-split reservoirs (mean %.1f, sd %.1f)\n%s"
                        % (mean, sd, text))

    # ---- what waggle stored

    def test_5_sampled_traces_are_stored(self):
        runs = {name: self.run_of(name) for name in RUNS}
        for service in sorted({s for _, s, _ in RUNS.values()}):
            mine = [r for n, r in runs.items() if RUNS[n][1] == service]
            sampled = {t for r in mine for t in r["sampled_trace_ids"] + r["other_sampled_trace_ids"]}
            window = {t for r in mine for t in r["sampled_trace_ids"]}
            args = ["--start-time", int(min(r["started_at"] for r in mine)) - 1,
                    "--end-time", max(r["window_end"] for r in mine) + 2,
                    "--filter-expression", 'service("%s")' % service]

            def listed():
                ids = {s["Id"] for s in self.aws("xray", "get-trace-summaries", *args)
                       ["TraceSummaries"]}
                return ids >= sampled, ids

            with self.subTest(service=service):
                _, ids = h.wait_until(listed, DATA_TIMEOUT, interval=1.0)
                self.assertEqual(sorted(window - ids), [],
                                 "sampled in the window but not stored (%d of %d)"
                                 % (len(window - ids), len(window)))
                # Everything the SDK sampled is there, and nothing it did not sample.
                self.assertEqual(sorted(sampled - ids), [])
                self.assertEqual(sorted(ids - sampled), [])
                rule = RUNS[next(n for n in RUNS if RUNS[n][1] == service)][0]
                some = sorted(window)[:5]
                traces, unprocessed = h.batch_get_traces(self.aws, some)
                self.assertEqual(unprocessed, [])
                for trace_id in some:
                    (segment,) = traces[trace_id]["Segments"]
                    doc = segment["Doc"]
                    self.assertEqual((doc["name"], doc["aws"]["xray"]["rule_name"]),
                                     (service, rule), doc)

    def test_6_deleting_a_rule_moves_last_rule_modification(self):
        # Spec §4.7: LastRuleModification is the time of the last create, update OR DELETE of a
        # rule. The Go and Python SDKs refresh their rules early when it is newer than their last
        # refresh, which is how they stop sampling by a deleted rule before the 5-minute poll.
        # (The Node SDK reads it as milliseconds and never refreshes early.) After the runs, so
        # that they are not disturbed.
        before = time.time()
        self.aws("xray", "delete-sampling-rule", "--rule-name", "Steady")
        document = {"RuleName": "Fleet", "ClientID": "f" * 24, "Timestamp": int(time.time()),
                    "RequestCount": 10, "SampledCount": 1, "BorrowCount": 0}
        status, _, body = h.http_request(
            "POST", self.waggle.xray_endpoint + "/SamplingTargets",
            json.dumps({"SamplingStatisticsDocuments": [document]}).encode(),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        self.assertGreaterEqual(
            answer["LastRuleModification"], before - 1e-3,
            "SamplingTargets after delete-sampling-rule (at >= %.3f) answered %s" % (before, body))

    def test_9_log_is_clean(self):
        h.assert_clean_log(self, self.waggle)


if __name__ == "__main__":
    h.main(sys.modules[__name__])
