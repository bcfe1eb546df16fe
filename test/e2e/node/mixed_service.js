'use strict';
// A Node HTTP service traced the way an AWS user would set it up: NodeTracerProvider with the
// AWS X-Ray id generator, the AWS X-Ray propagator as the global propagator (so an incoming
// X-Amzn-Trace-Id header continues the caller's trace), @opentelemetry/instrumentation-http for
// the server spans, and OTLP/HTTP protobuf export through a SimpleSpanProcessor.
//
//   node mixed_service.js --endpoint http://127.0.0.1:4318 [--service NAME] [--team KEY]
//        [--host 127.0.0.1] [--port 0]
//
// Prints {"port": N} on stdout once it listens (port 0 = the kernel picks). Routes:
//   GET /work   runs one INTERNAL span ("price-order") inside the instrumented SERVER span and
//               answers {"trace_id", "server_span_id", "internal_span_id", "incoming_trace_header"}
//   GET /flush  (not traced) waits for every export started so far and answers
//               {"ok", "exports": [...], "spans": [what the exporter was given]}; 500 unless ok
// The SERVER span ends when the /work response has been written, so its export may still be in
// flight when the caller has the answer: call /flush before reading the trace back.
// SIGTERM or SIGINT shuts the provider down and exits 0.

const common = require('./common');

const USAGE = `usage: node mixed_service.js --endpoint URL [--service NAME] [--team KEY]
       [--host 127.0.0.1] [--port 0]
`;

const args = common.parseCommandLine(
  {
    endpoint: { type: 'string' },
    service: { type: 'string', default: 'pricing-node' },
    team: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
  USAGE,
  ['endpoint'],
);

// Tracing is set up before `http` is loaded, so that the instrumentation can wrap it.
const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { NodeTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { AWSXRayIdGenerator } = require('@opentelemetry/id-generator-aws-xray');
const { AWSXRayPropagator } = require('@opentelemetry/propagator-aws-xray');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');

const exporter = new OTLPTraceExporter({
  url: `${args.endpoint.replace(/\/+$/, '')}/v1/traces`,
  headers: args.team !== undefined ? { 'x-honeycomb-team': args.team } : {},
});
const record = common.recordSpanExports(exporter);
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': args.service }),
  idGenerator: new AWSXRayIdGenerator(),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
provider.register({ propagator: new AWSXRayPropagator() });
registerInstrumentations({
  tracerProvider: provider,
  instrumentations: [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => (request.url || '').startsWith('/flush'),
    }),
  ],
});

const http = require('node:http');

const tracer = api.trace.getTracer('waggle-e2e-mixed-service', '1.0.0');

function reply(response, status, object) {
  const body = JSON.stringify(object);
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}

function work(request, response) {
  const server = api.trace.getActiveSpan();
  const answer = {
    trace_id: server ? server.spanContext().traceId : null,
    server_span_id: server ? server.spanContext().spanId : null,
    incoming_trace_header: request.headers['x-amzn-trace-id'] || null,
  };
  tracer.startActiveSpan('price-order', { kind: api.SpanKind.INTERNAL }, (span) => {
    let total = 0;
    for (let i = 1; i <= 1000; i += 1) total += i % 7;
    span.setAttribute('pricing.total', total);
    answer.internal_span_id = span.spanContext().spanId;
    span.end();
  });
  reply(response, 200, answer);
}

async function flush(response) {
  try {
    await provider.forceFlush();
  } catch (e) {
    // The failed export is in record.results already.
  }
  const summary = common.summarizeExports(record.results);
  reply(response, summary.ok ? 200 : 500, { ...summary, spans: record.spans });
}

const server = http.createServer((request, response) => {
  const path = (request.url || '/').split('?')[0];
  if (request.method === 'GET' && path === '/work') {
    work(request, response);
  } else if (request.method === 'GET' && path === '/flush') {
    flush(response);
  } else {
    reply(response, 404, { error: `no route ${request.method} ${path}` });
  }
});

server.listen(Number(args.port), args.host, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  provider
    .shutdown()
    .catch(() => {})
    .finally(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
