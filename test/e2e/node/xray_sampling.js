'use strict';
// A Node HTTP service traced with the AWS X-Ray SDK for Node.js (aws-xray-sdk-core) and its
// centralized sampling against an X-Ray daemon address, driving itself at a steady rate.
//
//   node xray_sampling.js --daemon 127.0.0.1:2000 [--service sampled-service] [--rule Steady]
//        [--rate 50] [--window 30] [--min-targets 1] [--start-at EPOCH]
//        [--quota-ttl-in-seconds] [--warmup-timeout 60]
//
// A plain `http` server whose handler calls AWSXRay.middleware.traceRequestResponseCycle (the
// SDK's framework-less middleware; fixed segment name --service) answers GET /work; sampled
// segments go over UDP to --daemon, and the SDK's pollers fetch sampling rules and targets
// from the same address over TCP (POST /GetSamplingRules at the first request, POST
// /SamplingTargets every 10 s). The program sends itself --rate requests a second, evenly
// spaced, through a keep-alive agent:
//   warm-up  until --min-targets SamplingTargets answers assigned --rule a ReservoirQuota, then
//            the window starts at the next whole second; or, with --start-at (processes that
//            share a window), until that epoch second, however many answers came before it
//   window   --window seconds, whole epoch seconds [window_start, window_end); then it stops
//            sending, waits for the responses and for the SDK's UDP sends, and prints
// one JSON line:
//   {service, rule, client_id, rate, started_at, window_start, window_end,
//    requests, sampled            (decided in the window, by the epoch second of the decision)
//    per_second: [[second, requests, sampled], ...]          (every second of the window)
//    sampled_trace_ids            (sampled in the window)
//    other_sampled_trace_ids      (sampled during the warm-up)
//    window_rule_names: {rule name the SDK put in aws.xray.rule_name: count} (sampled, window)
//    targets_before_window        (answers that assigned --rule a quota before window_start)
//    sampling_calls: [{path, sent_at, answered_at, request, status, response, error}]
//                                 (every GetSamplingRules / SamplingTargets exchange, raw JSON)
//    udp: {sent, errors}, request_errors, sdk_log: [SDK warnings and errors], error}
// and exits 0, or 1 when the warm-up timed out or a request failed.
//
// The exchanges with the daemon are observed by handing the SDK's service connector an `http`
// whose request() keeps a copy of each body; the SDK's own code does everything else.
// --quota-ttl-in-seconds: aws-xray-sdk-core 3.x reads ReservoirQuotaTTL (epoch seconds on the
// wire) with `new Date(value)`, i.e. as milliseconds, so the quota always looks expired and the
// SDK keeps borrowing 1 request a second (spec/xray.md §8 item 19; the same against AWS). With
// this flag the TTL the SDK received is multiplied back by 1000 before its rule cache loads it,
// so that the SDK's reservoir uses the quota the daemon assigned. Without it the SDK is as
// shipped.

const common = require('./common');

const USAGE = `usage: node xray_sampling.js --daemon HOST:PORT [--service NAME] [--rule NAME]
       [--rate N] [--window SECONDS] [--min-targets N] [--start-at EPOCH]
       [--quota-ttl-in-seconds] [--warmup-timeout SECONDS]
`;

const args = common.parseCommandLine(
  {
    daemon: { type: 'string' },
    service: { type: 'string', default: 'sampled-service' },
    rule: { type: 'string', default: 'Steady' },
    rate: { type: 'string', default: '50' },
    window: { type: 'string', default: '30' },
    'min-targets': { type: 'string', default: '1' },
    'start-at': { type: 'string' },
    'quota-ttl-in-seconds': { type: 'boolean', default: false },
    'warmup-timeout': { type: 'string', default: '60' },
    help: { type: 'boolean', default: false },
  },
  USAGE,
  ['daemon'],
);
const RATE = Number(args.rate);
const WINDOW = Number(args.window);
const MIN_TARGETS = Number(args['min-targets']);
const START_AT = args['start-at'] === undefined ? null : Number(args['start-at']);
const WARMUP_TIMEOUT = Number(args['warmup-timeout']);
for (const [name, value] of [['rate', RATE], ['window', WINDOW], ['min-targets', MIN_TARGETS],
  ['warmup-timeout', WARMUP_TIMEOUT], ['start-at', START_AT === null ? 0 : START_AT]]) {
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`--${name} must be a non-negative number\n\n${USAGE}`);
    process.exit(2);
  }
}

const http = require('node:http');
const AWSXRay = require('aws-xray-sdk-core');
const serviceConnector = require('aws-xray-sdk-core/dist/lib/middleware/sampling/service_connector');

// ---- what the SDK logs: warnings and errors are kept, UDP sends counted

const sdkLog = [];
const udp = { sent: 0, errors: 0 };
function keep(level, message, meta) {
  if (sdkLog.length < 50) {
    sdkLog.push(`${level}: ${message}${meta ? ` ${meta instanceof Error ? meta.message : JSON.stringify(meta)}` : ''}`);
  }
}
AWSXRay.setLogger({
  debug: (message) => {
    if (typeof message === 'string' && message.startsWith('Segment sent')) udp.sent += 1;
  },
  info: () => {},
  warn: (message, meta) => keep('warn', message, meta),
  error: (message, meta) => {
    if (typeof message === 'string' && message.includes('sending segment')) udp.errors += 1;
    keep('error', message, meta);
  },
});
AWSXRay.setDaemonAddress(args.daemon);
AWSXRay.middleware.setDefaultName(args.service);

// ---- the SDK's exchanges with the daemon, observed

const samplingCalls = [];
const parseJson = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};
serviceConnector.httpClient = {
  request(options, onResponse) {
    const call = { path: options.path, sent_at: Date.now() / 1000, request: '' };
    samplingCalls.push(call);
    const req = http.request(options, (res) => {
      call.status = res.statusCode;
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => {
        call.answered_at = Date.now() / 1000;
        call.response = parseJson(body);
      });
      onResponse(res);
    });
    req.on('error', (error) => {
      call.error = error.message;
    });
    const write = req.write.bind(req);
    req.write = (chunk, ...rest) => {
      call.request += chunk;
      return write(chunk, ...rest);
    };
    const end = req.end.bind(req);
    req.end = (...rest) => {
      call.request = parseJson(call.request);
      return end(...rest);
    };
    return req;
  },
};

// Answers that assigned args.rule a quota, as the SDK's target poller received them.
let targetsWithQuota = 0;
const fetchTargets = serviceConnector.fetchTargets;
serviceConnector.fetchTargets = function observedFetchTargets(rules, callback) {
  return fetchTargets.call(this, rules, (error, targets, ruleFreshness) => {
    if (!error && targets) {
      const target = targets[args.rule];
      if (target && typeof target.quota === 'number') targetsWithQuota += 1;
      if (args['quota-ttl-in-seconds']) {
        for (const t of Object.values(targets)) {
          if (t.TTL) t.TTL = Math.round(t.TTL * 1000);
        }
      }
    }
    callback(error, targets, ruleFreshness);
  });
};

// ---- the service

const bySecond = new Map(); // epoch second -> {requests, sampled, ids: [trace id]}
let decisions = 0;
const server = http.createServer((req, res) => {
  // The sampler takes its own `now` a few microseconds later, in the same second but for the
  // rare decision that straddles a second boundary.
  const second = Math.floor(Date.now() / 1000);
  const segment = AWSXRay.middleware.traceRequestResponseCycle(req, res);
  decisions += 1;
  let slot = bySecond.get(second);
  if (!slot) {
    slot = { requests: 0, sampled: 0, ids: [], rules: {} };
    bySecond.set(second, slot);
  }
  slot.requests += 1;
  if (!segment.notTraced) {
    slot.sampled += 1;
    slot.ids.push(segment.trace_id);
    const rule = (segment.aws && segment.aws.xray && segment.aws.xray.rule_name) || '(none)';
    slot.rules[rule] = (slot.rules[rule] || 0) + 1;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 2 });
  res.end('ok');
});

// ---- the driver: RATE requests a second, evenly spaced from a whole second on

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
let inFlight = 0;
let requestErrors = 0;
let firstError = null;
let sending = true;

function fire(port) {
  inFlight += 1;
  const req = http.get({ host: '127.0.0.1', port, path: '/work', agent }, (res) => {
    res.resume();
    res.on('end', () => {
      inFlight -= 1;
    });
  });
  req.on('error', (error) => {
    inFlight -= 1;
    requestErrors += 1;
    firstError = firstError || error.message;
  });
}

function drive(port, t0) {
  const intervalMs = 1000 / RATE;
  let k = 0;
  const tick = () => {
    if (!sending) return;
    const now = Date.now();
    while (t0 + k * intervalMs <= now) {
      fire(port);
      k += 1;
    }
    setTimeout(tick, Math.max(0, t0 + k * intervalMs - Date.now()));
  };
  tick();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(predicate, timeoutMs, stepMs = 20) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await sleep(stepMs);
  return predicate();
}

function summary(startedAt, windowStart, windowEnd, targetsBeforeWindow, error) {
  const perSecond = [];
  const sampledIds = [];
  const otherIds = [];
  const windowRules = {};
  let requests = 0;
  let sampled = 0;
  for (const [second, slot] of [...bySecond.entries()].sort((a, b) => a[0] - b[0])) {
    if (windowStart !== null && second >= windowStart && second < windowEnd) {
      requests += slot.requests;
      sampled += slot.sampled;
      sampledIds.push(...slot.ids);
      for (const [rule, n] of Object.entries(slot.rules)) windowRules[rule] = (windowRules[rule] || 0) + n;
    } else {
      otherIds.push(...slot.ids);
    }
  }
  if (windowStart !== null) {
    for (let s = windowStart; s < windowEnd; s += 1) {
      const slot = bySecond.get(s) || { requests: 0, sampled: 0 };
      perSecond.push([s, slot.requests, slot.sampled]);
    }
  }
  return {
    service: args.service,
    rule: args.rule,
    client_id: serviceConnector.clientId,
    rate: RATE,
    quota_ttl_in_seconds: args['quota-ttl-in-seconds'],
    started_at: startedAt,
    window_start: windowStart,
    window_end: windowEnd,
    requests,
    sampled,
    per_second: perSecond,
    sampled_trace_ids: sampledIds,
    other_sampled_trace_ids: otherIds,
    window_rule_names: windowRules,
    decisions,
    targets_before_window: targetsBeforeWindow,
    sampling_calls: samplingCalls,
    udp,
    request_errors: requestErrors,
    first_request_error: firstError,
    sdk_log: sdkLog,
    error,
  };
}

async function main() {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const startedAt = Date.now() / 1000;
  drive(port, Math.ceil(Date.now() / 1000) * 1000);

  // With --start-at the window starts then whatever the warm-up achieved (several processes
  // share it); targets_before_window says whether it was warm.
  const warm = START_AT !== null
    || await waitFor(() => targetsWithQuota >= MIN_TARGETS, WARMUP_TIMEOUT * 1000);
  if (!warm) {
    sending = false;
    const error = `no SamplingTargets answer assigned rule ${args.rule} a quota ${MIN_TARGETS} time(s) within ${WARMUP_TIMEOUT} s`;
    common.finish(summary(startedAt, null, null, targetsWithQuota, error), 1);
    return;
  }
  const windowStart = START_AT !== null ? START_AT : Math.floor(Date.now() / 1000) + 1;
  const windowEnd = windowStart + WINDOW;
  await waitFor(() => Date.now() / 1000 >= windowStart, (windowStart + 5) * 1000 - Date.now());
  const targetsBeforeWindow = targetsWithQuota;
  await waitFor(() => Date.now() >= windowEnd * 1000, (WINDOW + 5) * 1000, 5);
  sending = false;

  await waitFor(() => inFlight === 0, 10000);
  let sampledTotal = 0;
  for (const slot of bySecond.values()) sampledTotal += slot.sampled;
  await waitFor(() => udp.sent + udp.errors >= sampledTotal, 10000);
  agent.destroy();
  server.close();
  const error = requestErrors ? `${requestErrors} request(s) failed: ${firstError}` : null;
  common.finish(summary(startedAt, windowStart, windowEnd, targetsBeforeWindow, error), error ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
