'use strict';
// Sends a few events through libhoney-js (the Honeycomb Events API client) and reports the
// per-event responses from libhoney's response queue.
//
//   node libhoney_send.js --api-host http://127.0.0.1:4318 --dataset NAME --write-key KEY
//        [--service NAME] [--timeout-ms 10000] [--cut-text]
//
// libhoney POSTs them in one JSON batch to <api-host>/1/batch/<dataset> with X-Honeycomb-Team.
// The events: a trace of three spans (root "POST /checkout", children "charge-card" with
// samplerate 10 sent presampled, and "send-email"), each with trace.trace_id / trace.span_id /
// trace.parent_id / name / service.name / duration_ms, plus one event without trace fields.
// The trace id comes from the AWS X-Ray id generator, so the X-Ray API can look it up.
// --cut-text gives the root event `comment.cut`: a string cut through a surrogate pair ('thumbs '
// and the first half of U+1F44D), which JSON.stringify sends as a lone \ud83d escape.
//
// Prints one JSON line {"dataset", "trace_id", "xray_trace_id", "events": [what was sent],
// "responses": [{index, status_code, error}]} and exits 0 when every event got a 2xx, 1 when
// one did not (or no response came within the timeout), 2 on a bad command line.

const common = require('./common');

const USAGE = `usage: node libhoney_send.js --api-host URL --dataset NAME --write-key KEY
       [--service NAME] [--timeout-ms N] [--cut-text]
`;

const args = common.parseCommandLine(
  {
    'api-host': { type: 'string' },
    dataset: { type: 'string' },
    'write-key': { type: 'string' },
    service: { type: 'string', default: 'legacy-honey' },
    'timeout-ms': { type: 'string', default: '10000' },
    'cut-text': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  USAGE,
  ['api-host', 'dataset', 'write-key'],
);

const Libhoney = require('libhoney');
const { AWSXRayIdGenerator } = require('@opentelemetry/id-generator-aws-xray');

function main() {
  const timeoutMillis = Number(args['timeout-ms']);
  const hny = new Libhoney({
    apiHost: args['api-host'],
    writeKey: args['write-key'],
    dataset: args.dataset,
    timeout: timeoutMillis,
    batchTimeTrigger: 50,
  });

  const ids = new AWSXRayIdGenerator();
  const traceId = ids.generateTraceId();
  const rootId = ids.generateSpanId();
  const base = Date.now() - 1000;
  const service = args.service;
  const sent = [
    {
      time: base,
      sampleRate: 1,
      data: {
        'trace.trace_id': traceId, 'trace.span_id': rootId, name: 'POST /checkout',
        'service.name': service, duration_ms: 120.5, 'http.status_code': 200, 'cart.items': 3,
      },
    },
    {
      time: base + 10,
      sampleRate: 10,
      data: {
        'trace.trace_id': traceId, 'trace.span_id': ids.generateSpanId(),
        'trace.parent_id': rootId, name: 'charge-card', 'service.name': service,
        duration_ms: 40, error: true, 'payment.provider': 'acme-pay',
      },
    },
    {
      time: base + 60,
      sampleRate: 1,
      data: {
        'trace.trace_id': traceId, 'trace.span_id': ids.generateSpanId(),
        'trace.parent_id': rootId, name: 'send-email', 'service.name': service, duration_ms: 15,
      },
    },
    {
      time: base + 70,
      sampleRate: 1,
      data: { name: 'heartbeat', 'service.name': service, 'queue.depth': 7 },
    },
  ];

  if (args['cut-text']) sent[0].data['comment.cut'] = 'thumbs \u{1F44D}'.slice(0, 8);

  const responses = [];
  let done = false;
  function report(reason) {
    if (done) return;
    done = true;
    responses.sort((a, b) => a.index - b.index);
    const ok =
      reason === null &&
      responses.length === sent.length &&
      responses.every((r) => r.status_code >= 200 && r.status_code < 300 && !r.error);
    common.finish(
      {
        dataset: args.dataset,
        trace_id: traceId,
        xray_trace_id: common.xrayTraceId(traceId),
        events: sent.map((e, index) => ({
          index,
          time: common.hrSeconds([Math.floor(e.time / 1000), (e.time % 1000) * 1e6]),
          samplerate: e.sampleRate,
          data: e.data,
        })),
        responses,
        ok,
        failure: reason,
      },
      ok ? 0 : 1,
    );
  }

  hny.on('response', (queue) => {
    // The event hands over the whole queue; take what is new and empty it.
    for (const r of queue.splice(0, queue.length)) {
      responses.push({
        index: r.metadata ? r.metadata.index : null,
        status_code: r.status_code === undefined ? null : r.status_code,
        duration_ms: r.duration,
        error: r.error ? String(r.error.message || r.error) : null,
      });
    }
    if (responses.length >= sent.length) report(null);
  });
  setTimeout(
    () => report(`only ${responses.length} of ${sent.length} responses within ${timeoutMillis} ms`),
    timeoutMillis + 2000,
  );

  sent.forEach((e, index) => {
    const ev = hny.newEvent();
    ev.add(e.data);
    ev.timestamp = new Date(e.time);
    ev.metadata = { index };
    if (e.sampleRate > 1) {
      // Already sampled by the caller: libhoney sends it with "samplerate" instead of dropping.
      ev.sampleRate = e.sampleRate;
      ev.sendPresampled();
    } else {
      ev.send();
    }
  });
  hny.flush().catch((e) => report(`flush failed: ${e && e.message ? e.message : e}`));
}

main();
