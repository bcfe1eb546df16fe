#!/usr/bin/python3
"""End-to-end: what `waggle serve` promises about durability, under load and across crashes.

    /usr/bin/python3 test/e2e/durability_test.py --waggle build/waggle [unittest args, e.g. -v]
    (or WAGGLE_BIN=build/waggle /usr/bin/python3 test/e2e/durability_test.py)

  DurabilityPutKill9   3 clients POST /TraceSegments non-stop; kill -9 while requests are in
                       flight, restart, and every acknowledged document is readable byte for
                       byte; 5 kill/restart cycles, all acknowledged documents checked each time
  DurabilityFlushKill9 the same load with a head of 1000 spans, so heads are sealed and written
                       as blocks (and the WAL behind them dropped) every few hundred ms; kill -9
                       once at least 2 flushes happened in the run; 3 cycles, every acknowledged
                       document read back byte for byte after each restart, from blocks and WAL
  DurabilityOtlpKill9  3 clients POST OTLP/HTTP protobuf to /v1/traces non-stop (the WAL keeps
                       the requests as they came, record type 3); kill -9 under load, restart,
                       and every acknowledged span reads back; 3 cycles
  DurabilityUdpKill9   a steady UDP stream; kill -9 mid-stream; at least as many documents are
                       readable after the restart as /metrics counted accepted before the kill
  DurabilityWalDamage  garbage after the last WAL record is cut at start (and counted); a byte
                       flipped inside an earlier record loses that record's trace only (counted
                       as one corrupt region), and later writes go on being kept (the WAL
                       is damaged after kill -9: a clean stop leaves it empty)
  DurabilityCleanRestart  SIGTERM writes the head into a block, which `waggle inspect` lists
                       with its spans and columns; the restart replays no WAL record and
                       every document reads back

A span sent over OTLP is ACKNOWLEDGED when its export got HTTP 200 with an empty response (no
partial success).
A document is ACKNOWLEDGED when its PutTraceSegments request got HTTP 200 and the reply did not
list it in UnprocessedTraceSegments (the API's documents are fsynced before the reply). A UDP
document is accepted once waggle has written it to the OS, which a kill -9 of the process does
not undo.

Everything runs on loopback in a temp dir, with ports from harness.free_port(). With -v (or
WAGGLE_E2E_VERBOSE=1) the tests print their figures: per kill cycle, documents acknowledged and
requests cut off by the kill. WAGGLE_E2E_KEEP=1 keeps the temp dirs (server logs, data dirs).
"""

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from harness import read_metrics  # noqa: E402

WAGGLE_BIN = None  # set by main() from --waggle / $WAGGLE_BIN
VERBOSE = False    # set by main() from -v / WAGGLE_E2E_VERBOSE=1

KILL_CYCLES = 5
FLUSH_HEAD_ROWS = 1000  # --head-max-rows for DurabilityFlushKill9 (the smallest allowed)
FLUSH_CYCLES = 3
OTLP_KILL_CYCLES = 3
PUT_CLIENTS = 3
PUT_BATCH = 10          # documents per PutTraceSegments request
LOAD_SECONDS = 1.0      # load before each kill -9, counted from the first acknowledgement
UDP_RATE = 2000         # datagrams a second
UDP_SECONDS = 1.0
READERS = 2             # parallel BatchGetTraces connections when checking
REQUEST_TIMEOUT = 30.0  # one HTTP request; only a hung server reaches it
DATA_TIMEOUT = 30.0     # seconds for the first acknowledgement / acceptance to show up
BATCH_GET_MAX_IDS = 5   # BatchGetTraces' limit
GARBAGE = b"\x13\x37" * 5

ACCEPTED_UDP = "waggle_xray_udp_segments_accepted_total"


def report(message, *args):
    if VERBOSE:
        print("\n  " + (message % args if args else message), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Documents


def new_document(name, **annotations):
    """(trace id, document text) of a small complete segment with a trace of its own.

    json.dumps' default separators (", ", ": ") are not what a JSON writer would produce
    again, so getting the text back unchanged shows it was kept byte for byte.
    """
    now = time.time()
    doc = {"name": name, "id": h.new_span_id(), "trace_id": h.new_trace_id(),
           "start_time": now, "end_time": now + 0.125, "annotations": annotations}
    return doc["trace_id"], json.dumps(doc)


class Connection:
    """A keep-alive HTTP/1.1 connection: to the X-Ray API (unsigned, rest-json) or to
    OTLP/HTTP."""

    def __init__(self, port, timeout=REQUEST_TIMEOUT):
        self.port = port
        self.timeout = timeout
        self._conn = None

    def post(self, path, payload, content_type="application/json"):
        """POSTs `payload` (bytes as they are, anything else as JSON); returns (status, body
        bytes). A connection error (OSError, http.client.HTTPException) propagates, and the
        next call reconnects."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(h.LOOPBACK, self.port, timeout=self.timeout)
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self._conn.request("POST", path, body, {"Content-Type": content_type})
            response = self._conn.getresponse()
            return response.status, response.read()
        except BaseException:
            self.close()
            raise

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def batch_get_documents(port, trace_ids, readers=READERS):
    """BatchGetTraces (POST /Traces, 5 ids a call, `readers` connections in parallel) for every
    id in `trace_ids`. Returns ({trace id: [(segment Id, Document text), ...]}, unprocessed ids).
    Raises AssertionError on any answer but HTTP 200."""
    ids = list(dict.fromkeys(trace_ids))
    chunks = [ids[i:i + BATCH_GET_MAX_IDS] for i in range(0, len(ids), BATCH_GET_MAX_IDS)]
    found, unprocessed, failures = {}, [], []
    lock = threading.Lock()

    def read(part):
        conn = Connection(port)
        try:
            for chunk in chunks[part::readers]:
                status, body = conn.post("/Traces", {"TraceIds": chunk})
                if status != 200:
                    with lock:
                        failures.append("POST /Traces %s: HTTP %d %r" % (chunk, status, body[:300]))
                    return
                reply = json.loads(body)
                with lock:
                    for trace in reply.get("Traces", []):
                        found[trace["Id"]] = [(s["Id"], s["Document"]) for s in trace["Segments"]]
                    unprocessed.extend(reply.get("UnprocessedTraceIds", []))
        except Exception as error:  # noqa: BLE001 -- reported by the caller's thread
            with lock:
                failures.append("POST /Traces: %r" % error)
        finally:
            conn.close()

    threads = [threading.Thread(target=read, args=(i,), name="batch-get-%d" % i)
               for i in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise AssertionError("BatchGetTraces failed:\n" + "\n".join(failures[:5]))
    return found, unprocessed


def segment_id(text):
    return json.loads(text)["id"]


# --------------------------------------------------------------------------------------------
# Load


class PutLoad:
    """PUT_CLIENTS threads POSTing /TraceSegments back to back, PUT_BATCH fresh documents a
    request, over keep-alive connections. (OtlpLoad sends OTLP requests instead.)

    Call killing() just before the server is killed: from then on each client ends at its first
    connection error. A request that was sent before killing() and then failed was cut off by
    the kill (`cut_off`). Errors before killing() are kept in `errors_before_kill`.
    """

    def __init__(self, port, cycle):
        self.port = port
        self.cycle = cycle
        self._lock = threading.Lock()
        self._killing = threading.Event()
        self._stopping = threading.Event()
        self.acknowledged = {}  # trace id -> what it must read back as: the document text
        self.statuses = Counter()
        self.unprocessed = 0
        self.cut_off = 0
        self.errors_before_kill = []
        self.ended_by_error = set()  # clients that saw a connection error after killing()
        self._threads = [threading.Thread(target=self._run, args=(i,), name="put-%d" % i,
                                          daemon=True) for i in range(PUT_CLIENTS)]

    def start(self):
        for thread in self._threads:
            thread.start()
        return self

    def acknowledged_count(self):
        with self._lock:
            return len(self.acknowledged)

    def killing(self):
        self._killing.set()

    def join(self, timeout):
        """Waits for the clients to end (after killing()); False if one is still going."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def stop(self):
        """Cleanup: ends the clients whatever state they are in."""
        self._stopping.set()
        self._killing.set()
        self.join(REQUEST_TIMEOUT + 5)

    def new_request(self, client, sequence):
        """(path, payload, content type, {trace id: what it must read back as}) of the next
        request, with PUT_BATCH traces numbered from `sequence`."""
        batch = {}
        for seq in range(sequence, sequence + PUT_BATCH):
            trace_id, text = new_document("durability-put", cycle=self.cycle, client=client,
                                          seq=seq)
            batch[trace_id] = text
        return ("/TraceSegments", {"TraceSegmentDocuments": list(batch.values())},
                "application/json", batch)

    def refused(self, body, batch):
        """The trace ids of `batch` that a 200 answer `body` says were not stored."""
        rejected = {u.get("Id") for u in json.loads(body)["UnprocessedTraceSegments"]}
        return {t for t, text in batch.items() if segment_id(text) in rejected}

    def _run(self, client):
        conn = Connection(self.port)
        sequence = 0
        try:
            while not self._stopping.is_set():
                path, payload, content_type, batch = self.new_request(client, sequence)
                sequence += PUT_BATCH
                sent_after_kill = self._killing.is_set()
                try:
                    status, body = conn.post(path, payload, content_type)
                except (OSError, http.client.HTTPException) as error:
                    with self._lock:
                        if self._killing.is_set():
                            self.ended_by_error.add(client)
                            self.cut_off += not sent_after_kill
                        else:
                            self.errors_before_kill.append(repr(error))
                    if self._killing.is_set():
                        return
                    continue
                with self._lock:
                    self.statuses[status] += 1
                if status != 200:
                    continue
                refused = self.refused(body, batch)
                with self._lock:
                    for trace_id, expected in batch.items():
                        if trace_id in refused:
                            self.unprocessed += 1
                        else:
                            self.acknowledged[trace_id] = expected
        finally:
            conn.close()


class OtlpLoad(PutLoad):
    """PutLoad's clients POSTing OTLP/HTTP protobuf to /v1/traces: PUT_BATCH traces a request,
    one server span each, which must read back through BatchGetTraces as one segment with the
    span's id."""

    def new_request(self, client, sequence):
        now_ns = time.time_ns()
        spans, batch = [], {}
        for seq in range(sequence, sequence + PUT_BATCH):
            trace_id, span_id = h.new_otel_trace_id(), h.new_span_id()
            spans.append({"trace_id": trace_id, "span_id": span_id, "kind": 2,
                          "name": "durability-otlp-%d-%d-%d" % (self.cycle, client, seq),
                          "start_ns": now_ns - 5 * 10**6, "end_ns": now_ns})
            batch[h.xray_trace_id(trace_id)] = span_id
        return ("/v1/traces", h.pb_trace_request("durability-otlp", spans),
                "application/x-protobuf", batch)

    def refused(self, body, batch):
        # An empty ExportTraceServiceResponse: nothing refused. Any partial_success counts
        # every span of the request as refused (none should be).
        return set() if body == b"" else set(batch)


def stream_document(seq):
    return new_document("durability-udp", seq=seq)


# --------------------------------------------------------------------------------------------
# Tests


class TempDirTestCase(h.TempDirTestCase):
    """h.TempDirTestCase with a waggle per test and sanitizer checks of its log."""

    workdir_prefix = "waggle-e2e-durability-"

    def start_waggle(self, extra_args=()):
        workdir = self.workdir / self._testMethodName
        workdir.mkdir(parents=True, exist_ok=True)
        waggle = h.Waggle(WAGGLE_BIN, workdir, extra_args=extra_args)
        self.addCleanup(waggle.stop)
        return waggle.start().wait_ready()

    def terminate_cleanly(self, waggle):
        """Also covers any killed run before it: they share the log."""
        h.terminate_cleanly(self, waggle)

    def put(self, waggle, documents):
        """One PutTraceSegments of `documents`; all are accepted."""
        conn = Connection(waggle.xray_port)
        try:
            status, body = conn.post("/TraceSegments",
                                     {"TraceSegmentDocuments": list(documents.values())})
        finally:
            conn.close()
        self.assertEqual(200, status, body)
        self.assertEqual([], json.loads(body)["UnprocessedTraceSegments"], body)

    def kill9(self, waggle):
        waggle.kill9()
        h.assert_clean_log(self, waggle)

    def kill9_under(self, load, waggle, cycle):
        """kill -9 amid `load` (a PutLoad); the clients end, and none saw an error or a 5xx
        before the kill."""
        load.killing()
        self.kill9(waggle)
        self.assertTrue(load.join(REQUEST_TIMEOUT + 5),
                        "cycle %d: the clients did not all end after the kill" % cycle)
        self.assertEqual([], load.errors_before_kill[:5],
                         "cycle %d: connection errors before the kill\n%s"
                         % (cycle, waggle.log_tail()))
        server_errors = {s: n for s, n in load.statuses.items() if s >= 500}
        self.assertEqual({}, server_errors, "cycle %d: 5xx answers before the kill\n%s"
                         % (cycle, waggle.log_tail()))

    def kill9_once_acknowledging(self, load, waggle, cycle, what):
        """Waits for `load` (a PutLoad, started) to get acknowledgements, lets it run
        LOAD_SECONDS more, and kill -9s the server under it: every client must see it go."""
        ok, _ = h.wait_until(lambda: (load.acknowledged_count() > 0, None), DATA_TIMEOUT)
        self.assertTrue(ok, "cycle %d: no %s acknowledged within %.0f s (statuses %s, errors "
                        "%s)\n%s" % (cycle, what, DATA_TIMEOUT, dict(load.statuses),
                                     load.errors_before_kill[:3], waggle.log_tail()))
        time.sleep(LOAD_SECONDS)  # the load itself is what this waits for
        self.kill9_under(load, waggle, cycle)
        self.assertEqual(set(range(PUT_CLIENTS)), load.ended_by_error,
                         "cycle %d: every client saw the server go" % cycle)

    def assert_all_readable(self, waggle, documents, what):
        """Every trace of `documents` ({trace id: text}) reads back as exactly that one
        document, byte for byte."""
        found, unprocessed = batch_get_documents(waggle.xray_port, documents)
        missing = [t for t in documents if t not in found]
        changed = [t for t in documents
                   if t in found and found[t] != [(segment_id(documents[t]), documents[t])]]
        self.assertEqual(
            ([], []), (missing[:5], changed[:5]),
            "%s: of %d documents, %d are missing (UnprocessedTraceIds: %d) and %d come back "
            "different; the first few ids are shown, e.g. sent %r got %r\n%s"
            % (what, len(documents), len(missing), len(unprocessed), len(changed),
               documents[(missing + changed)[0]] if missing + changed else None,
               found.get(changed[0]) if changed else None, waggle.log_tail()))


class DurabilityPutKill9(TempDirTestCase):

    def test_acknowledged_documents_survive_kill9_under_load(self):
        waggle = self.start_waggle()
        acknowledged = {}
        cut_off = []  # per cycle, requests sent before the kill that got no answer
        for cycle in range(1, KILL_CYCLES + 1):
            load = PutLoad(waggle.xray_port, cycle).start()
            self.addCleanup(load.stop)
            self.kill9_once_acknowledging(load, waggle, cycle, "PutTraceSegments")
            acknowledged.update(load.acknowledged)
            cut_off.append(load.cut_off)

            waggle.restart()
            started = time.monotonic()
            self.assert_all_readable(waggle, acknowledged,
                                     "after kill -9 number %d" % cycle)
            report("cycle %d: %d documents acknowledged (%d requests: %s; %d documents "
                   "unprocessed), %d requests cut off by kill -9; all %d acknowledged so far "
                   "read back byte for byte in %.1f s",
                   cycle, len(load.acknowledged), sum(load.statuses.values()),
                   dict(load.statuses), load.unprocessed, load.cut_off, len(acknowledged),
                   time.monotonic() - started)
        # Each kill lands amid back-to-back requests, but a client may be between two of them
        # at that instant, so "cut off at least one" is asserted over all cycles, not each.
        self.assertGreater(sum(cut_off), 0, "the kills cut off requests in flight: %s" % cut_off)
        traces = read_metrics(waggle.http_url)["waggle_store_traces"]
        self.assertGreaterEqual(traces, len(acknowledged), "waggle_store_traces")
        self.terminate_cleanly(waggle)


class DurabilityFlushKill9(TempDirTestCase):

    def test_acknowledged_documents_survive_kill9_amid_block_flushes(self):
        waggle = self.start_waggle(["--head-max-rows", str(FLUSH_HEAD_ROWS)])
        acknowledged = {}
        for cycle in range(1, FLUSH_CYCLES + 1):
            load = PutLoad(waggle.xray_port, 100 + cycle).start()
            self.addCleanup(load.stop)

            def flushed():
                n = read_metrics(waggle.http_url)["waggle_store_flushes_total"]
                return n >= 2, n
            ok, count = h.wait_until(flushed, DATA_TIMEOUT)
            self.assertTrue(ok, "cycle %d: %s heads written as blocks within %.0f s under load "
                            "(statuses %s)\n%s" % (cycle, count, DATA_TIMEOUT,
                                                    dict(load.statuses), waggle.log_tail()))
            before = read_metrics(waggle.http_url)
            self.kill9_under(load, waggle, cycle)
            acknowledged.update(load.acknowledged)

            waggle.restart()
            after = read_metrics(waggle.http_url)
            # Read back from blocks as well as from the WAL: heads were written as blocks.
            self.assertGreater(after["waggle_store_blocks"], 0, "cycle %d" % cycle)
            self.assert_all_readable(waggle, acknowledged, "after kill -9 number %d" % cycle)
            report("cycle %d: %d documents acknowledged, %d heads written as blocks before the "
                   "kill; after the restart %d blocks and %d WAL records replayed; all %d "
                   "acknowledged so far read back byte for byte",
                   cycle, len(load.acknowledged), before["waggle_store_flushes_total"],
                   after["waggle_store_blocks"], after["waggle_store_wal_records_replayed"],
                   len(acknowledged))
        self.terminate_cleanly(waggle)


class DurabilityOtlpKill9(TempDirTestCase):

    def test_acknowledged_otlp_spans_survive_kill9_under_load(self):
        """The OTLP protobuf requests are logged as they came (WAL record type 3) and decoded
        again on replay: every span acknowledged reads back after each kill -9."""
        waggle = self.start_waggle()
        acknowledged = {}
        for cycle in range(1, OTLP_KILL_CYCLES + 1):
            load = OtlpLoad(waggle.otlp_http_port, cycle).start()
            self.addCleanup(load.stop)
            self.kill9_once_acknowledging(load, waggle, cycle, "OTLP export")
            self.assertEqual(0, load.unprocessed, "spans refused in partial success")
            acknowledged.update(load.acknowledged)
            types = h.wal_record_types(waggle.data_dir)
            self.assertGreater(types[h.WAL_SPAN_SOURCE], 0,
                               "OTLP requests logged as they came: %s" % types)

            waggle.restart()
            # This cycle's spans are in the WAL's records (type 3 ones, checked above): the
            # restart replayed them, none refused (a source the decoder refuses is counted as
            # a corrupt region).
            metrics = read_metrics(waggle.http_url)
            self.assertGreater(metrics["waggle_store_wal_records_replayed"], 0,
                               "cycle %d: WAL records replayed" % cycle)
            self.assertEqual(0, metrics["waggle_store_wal_corrupt_regions"],
                             "cycle %d: WAL records refused on replay" % cycle)
            found, unprocessed = batch_get_documents(waggle.xray_port, acknowledged)
            wrong = [t for t in acknowledged
                     if [segment_id(text) for _, text in found.get(t, [])] != [acknowledged[t]]]
            self.assertEqual([], wrong[:5], "after kill -9 number %d: %d of %d acknowledged "
                             "traces are missing or not their one span (%d unprocessed); "
                             "e.g. %r\n%s" % (cycle, len(wrong), len(acknowledged),
                                              len(unprocessed),
                                              found.get(wrong[0]) if wrong else None,
                                              waggle.log_tail()))
            report("OTLP cycle %d: %d spans acknowledged (%d requests: %s), %d requests cut "
                   "off, WAL records by type %s, %d replayed; all %d acknowledged so far read "
                   "back", cycle, len(load.acknowledged), sum(load.statuses.values()),
                   dict(load.statuses), load.cut_off, dict(types),
                   metrics["waggle_store_wal_records_replayed"], len(acknowledged))
        self.terminate_cleanly(waggle)


class DurabilityUdpKill9(TempDirTestCase):

    def test_accepted_datagrams_survive_kill9(self):
        waggle = self.start_waggle()
        stream = h.UdpStream(waggle.xray_udp_address, stream_document, rate=UDP_RATE).start()
        self.addCleanup(stream.stop)

        def accepting():
            return read_metrics(waggle.http_url)[ACCEPTED_UDP] > 0, None

        ok, _ = h.wait_until(accepting, DATA_TIMEOUT)
        self.assertTrue(ok, "no UDP document accepted within %.0f s\n%s"
                        % (DATA_TIMEOUT, waggle.log_tail()))
        time.sleep(UDP_SECONDS)  # the stream itself is what this waits for
        accepted = read_metrics(waggle.http_url)[ACCEPTED_UDP]
        self.kill9(waggle)
        sent_before_kill = len(stream.sent())
        ok, _ = h.wait_until(lambda: (len(stream.sent()) > sent_before_kill, None), 10.0,
                             interval=0.01)
        self.assertTrue(ok, "the stream went on after the kill (it was killed mid-stream)")
        stream.stop()
        sent = stream.sent()

        waggle.restart()
        found, _ = batch_get_documents(waggle.xray_port, sent)
        changed = [t for t in found if found[t] != [(segment_id(sent[t]), sent[t])]]
        self.assertEqual([], changed[:5], "stored documents come back as sent")
        self.assertGreaterEqual(
            len(found), accepted, "of %d documents sent (%d sendto errors), %d are readable "
            "after the restart; %s was %d just before kill -9\n%s"
            % (len(sent), stream.send_errors, len(found), ACCEPTED_UDP, accepted,
               waggle.log_tail()))
        report("UDP: %d sent (%d before kill -9), %d accepted before kill -9, %d readable "
               "after the restart", len(sent), sent_before_kill, accepted, len(found))
        self.terminate_cleanly(waggle)


class DurabilityWalDamage(TempDirTestCase):
    """A clean stop writes the head into a block and leaves the WAL empty, so the WAL is
    damaged here after kill -9, when the spans are only in the WAL."""

    def recovery_metrics(self, waggle):
        metrics = read_metrics(waggle.http_url)
        return {k: metrics[k] for k in ("waggle_store_wal_truncated_bytes",
                                        "waggle_store_wal_corrupt_regions",
                                        "waggle_store_wal_corrupt_bytes", "waggle_store_traces")}

    def test_torn_tail_is_cut_and_damaged_record_is_skipped(self):
        waggle = self.start_waggle()
        documents = dict(new_document("durability-wal", n=i) for i in range(8))
        for trace_id, text in documents.items():  # one request, one record each
            self.put(waggle, {trace_id: text})
        self.kill9(waggle)
        last = h.wal_segments(waggle.data_dir)[-1]
        clean_size = last.stat().st_size

        # 1. A torn tail: garbage after the last record is cut, nothing is lost.
        with open(last, "ab") as f:
            f.write(GARBAGE)
        waggle.restart()
        self.assertEqual({"waggle_store_wal_truncated_bytes": len(GARBAGE),
                          "waggle_store_wal_corrupt_regions": 0,
                          "waggle_store_wal_corrupt_bytes": 0,
                          "waggle_store_traces": len(documents)},
                         self.recovery_metrics(waggle), "after %d garbage bytes were appended "
                         "to %s\n%s" % (len(GARBAGE), last.name, waggle.log_tail()))
        self.assertEqual(clean_size, last.stat().st_size, "the torn tail is cut off the file")
        self.assert_all_readable(waggle, documents, "after the torn tail was cut")
        self.kill9(waggle)

        # 2. A byte flipped in the middle of an earlier record (not the last one, which would
        # be a torn tail): only that record's trace is lost.
        data = bytearray(last.read_bytes())
        records = h.wal_records(data)
        self.assertGreaterEqual(len(records), 2, "records in %s" % last.name)
        offset, _, length = records[0]
        payload = bytes(data[offset + h.WAL_RECORD_HEADER:offset + h.WAL_RECORD_HEADER + length])
        damaged = [t for t, text in documents.items() if text.encode() in payload]
        self.assertEqual(1, len(damaged), "the first record holds one of the documents")
        damaged = damaged[0]
        data[offset + h.WAL_RECORD_HEADER + length // 2] ^= 0xFF
        last.write_bytes(data)
        waggle.restart()
        self.assertEqual({"waggle_store_wal_truncated_bytes": 0,
                          "waggle_store_wal_corrupt_regions": 1,
                          "waggle_store_wal_corrupt_bytes": h.WAL_RECORD_HEADER + length,
                          "waggle_store_traces": len(documents) - 1},
                         self.recovery_metrics(waggle),
                         "after a byte in the first record's payload was flipped\n%s"
                         % waggle.log_tail())
        _, unprocessed = batch_get_documents(waggle.xray_port, documents)
        self.assertEqual([damaged], unprocessed, "the damaged record's trace is unprocessed")
        intact = {t: text for t, text in documents.items() if t != damaged}
        self.assert_all_readable(waggle, intact, "after the damaged record was skipped")

        # Writes after the damage are kept, and the damage stays skipped, not spread.
        later = dict([new_document("durability-wal-after-damage")])
        self.put(waggle, later)
        self.kill9(waggle)
        waggle.restart()
        self.assertEqual({"waggle_store_wal_truncated_bytes": 0,
                          "waggle_store_wal_corrupt_regions": 1,
                          "waggle_store_wal_corrupt_bytes": h.WAL_RECORD_HEADER + length,
                          "waggle_store_traces": len(documents)},
                         self.recovery_metrics(waggle), "after a further restart")
        self.assert_all_readable(waggle, {**intact, **later}, "after a further restart")
        report("WAL: %d garbage bytes cut; a %d-byte damaged record skipped, %d of %d traces "
               "intact", len(GARBAGE), h.WAL_RECORD_HEADER + length, len(intact), len(documents))
        self.terminate_cleanly(waggle)


class DurabilityCleanRestart(TempDirTestCase):

    def test_clean_stop_leaves_everything_in_blocks_and_restart_replays_nothing(self):
        waggle = self.start_waggle()
        documents = dict(new_document("durability-clean", n=i) for i in range(20))
        self.put(waggle, documents)
        self.terminate_cleanly(waggle)
        # `waggle inspect` reads the block the clean stop wrote.
        inspect = subprocess.run([WAGGLE_BIN, "inspect", str(waggle.data_dir)],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(0, inspect.returncode, inspect.stderr)
        totals = re.search(r"(\d+) blocks, (\d+) spans, (\d+) bytes", inspect.stdout)
        self.assertIsNotNone(totals, inspect.stdout)
        self.assertEqual((1, len(documents)), (int(totals[1]), int(totals[2])), inspect.stdout)
        for column in ("trace_id", "span_id", "service", "duration_ns", "(x-ray documents)",
                       "(bloom filters)"):
            self.assertRegex(inspect.stdout, r"\n  %s +\d+" % re.escape(column))
        missing = subprocess.run([WAGGLE_BIN, "inspect", str(waggle.data_dir) + "/nowhere"],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(1, missing.returncode)
        self.assertIn("holds no waggle store", missing.stderr)
        waggle.restart()
        metrics = read_metrics(waggle.http_url)
        self.assertEqual(0, metrics["waggle_store_wal_records_replayed"], waggle.log_tail())
        self.assertEqual(1, metrics["waggle_store_blocks"])
        self.assertEqual(0, metrics["waggle_store_head_spans"])
        self.assert_all_readable(waggle, documents, "after a clean restart")
        self.terminate_cleanly(waggle)


def main():
    global WAGGLE_BIN, VERBOSE
    WAGGLE_BIN = h.waggle_binary(sys.argv)
    VERBOSE = (os.environ.get("WAGGLE_E2E_VERBOSE") == "1"
               or any(a in ("-v", "--verbose") for a in sys.argv[1:]))
    unittest.main()


if __name__ == "__main__":
    main()
