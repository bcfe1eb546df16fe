'use strict';
// Sends one small trace through a real OpenTelemetry JS exporter and reports what it sent.
//
//   node send_spans.js --protocol http/protobuf --endpoint http://127.0.0.1:4318 \
//        [--gzip] [--team KEY] [--dataset NAME] [--service NAME] [--timeout-ms 10000]
//
// --protocol   http/json (exporter-trace-otlp-http), http/protobuf (exporter-trace-otlp-proto)
//              or grpc (exporter-trace-otlp-grpc)
// --endpoint   for http/*: the base URL, /v1/traces is appended (as OTEL_EXPORTER_OTLP_ENDPOINT);
//              for grpc: http://host:port (plaintext)
// --gzip       compression gzip (Content-Encoding: gzip, or grpc-encoding: gzip)
// --team       sent as the x-honeycomb-team header (gRPC metadata for grpc)
// --dataset    sent as the x-honeycomb-dataset header
// --cut-text   the root span also gets `comment.cut`: a string cut through a surrogate pair, as
//              attribute length limits cut them ('thumbs ' and the first half of U+1F44D)
//
// The trace (ids from the AWS X-Ray id generator, so the trace id starts with the epoch second):
//   GET /orders/{id}        SERVER, http.* / url.* / client.address attributes, 200
//   ├── SELECT orders       CLIENT, db.* attributes
//   └── compute-price       INTERNAL, an `exception` span event, a link, status ERROR
//       └── GET /stock/{id} CLIENT, HTTP 429 to peer.service inventory-api
// All four are ended before the batch processor is force-flushed, so they leave in one request.
//
// Prints one JSON line: {"trace_id", "xray_trace_id", "span_ids", "spans": [what the exporter
// was given], "export_result": {"ok", "exports": [{code, ok, count, error}]}}, and exits 0 when
// every export succeeded, 1 when one failed (the error holds the HTTP status and body, or the
// gRPC code), 2 on a bad command line.

const common = require('./common');

const USAGE = `usage: node send_spans.js --protocol http/json|http/protobuf|grpc --endpoint URL
       [--gzip] [--team KEY] [--dataset NAME] [--service NAME] [--timeout-ms N] [--cut-text]
`;

const args = common.parseCommandLine(
  {
    protocol: { type: 'string', default: 'http/protobuf' },
    endpoint: { type: 'string' },
    gzip: { type: 'boolean', default: false },
    team: { type: 'string' },
    dataset: { type: 'string' },
    service: { type: 'string', default: 'checkout-node' },
    'timeout-ms': { type: 'string', default: '10000' },
    'cut-text': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  USAGE,
  ['endpoint'],
);
common.requireChoice('protocol', args.protocol, ['http/json', 'http/protobuf', 'grpc'], USAGE);

const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { AWSXRayIdGenerator } = require('@opentelemetry/id-generator-aws-xray');

function makeExporter() {
  const timeoutMillis = Number(args['timeout-ms']);
  const compression = args.gzip ? 'gzip' : 'none';
  const headers = {};
  if (args.team !== undefined) headers['x-honeycomb-team'] = args.team;
  if (args.dataset !== undefined) headers['x-honeycomb-dataset'] = args.dataset;

  if (args.protocol === 'grpc') {
    const grpc = require('@grpc/grpc-js');
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
    return new OTLPTraceExporter({ url: args.endpoint, metadata, compression, timeoutMillis });
  }
  const url = `${args.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const { OTLPTraceExporter } =
    args.protocol === 'http/json'
      ? require('@opentelemetry/exporter-trace-otlp-http')
      : require('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url, headers, compression, timeoutMillis });
}

// A span context in another (X-Ray-valid) trace, for the link.
function otherSpanContext(idGenerator) {
  return {
    traceId: idGenerator.generateTraceId(),
    spanId: idGenerator.generateSpanId(),
    traceFlags: api.TraceFlags.SAMPLED,
  };
}

async function main() {
  const exporter = makeExporter();
  const record = common.recordSpanExports(exporter);
  const idGenerator = new AWSXRayIdGenerator();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': args.service,
      'service.version': '1.4.2',
      'deployment.environment.name': 'e2e',
    }),
    idGenerator,
    // Nothing leaves before forceFlush: one request carries the whole trace.
    spanProcessors: [
      new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60000, maxExportBatchSize: 512 }),
    ],
  });
  const tracer = provider.getTracer('waggle-e2e-send-spans', '1.0.0');

  // Fixed offsets from a common base, so that the times the test reads back are predictable.
  const base = Date.now() - 1000;
  const at = (ms) => base + ms;

  const root = tracer.startSpan('GET /orders/{id}', {
    kind: api.SpanKind.SERVER,
    startTime: at(0),
    attributes: {
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'url.path': '/orders/42',
      'url.query': 'verbose=1',
      'server.address': 'shop.example.com',
      'server.port': 8080,
      'http.route': '/orders/{id}',
      'user_agent.original': 'waggle-e2e/1.0',
      'client.address': '203.0.113.7',
      'network.peer.address': '10.0.0.5',
      'order.id': '42',
    },
  });
  if (args['cut-text']) root.setAttribute('comment.cut', 'thumbs \u{1F44D}'.slice(0, 8));
  const rootContext = api.trace.setSpan(api.ROOT_CONTEXT, root);

  const db = tracer.startSpan(
    'SELECT orders',
    {
      kind: api.SpanKind.CLIENT,
      startTime: at(10),
      attributes: {
        'db.system': 'postgresql',
        'db.name': 'orders',
        'db.statement': 'SELECT * FROM orders WHERE id = $1',
        'db.user': 'shop',
        'server.address': 'db.internal',
        'server.port': 5432,
      },
    },
    rootContext,
  );
  db.end(at(40));

  const linked = otherSpanContext(idGenerator);
  const compute = tracer.startSpan(
    'compute-price',
    {
      kind: api.SpanKind.INTERNAL,
      startTime: at(45),
      attributes: { 'pricing.rule': 'bulk-discount', 'pricing.items': 3 },
      links: [{ context: linked, attributes: { 'link.reason': 'batch-origin' } }],
    },
    rootContext,
  );
  const computeContext = api.trace.setSpan(rootContext, compute);

  const inventory = tracer.startSpan(
    'GET /stock/{id}',
    {
      kind: api.SpanKind.CLIENT,
      startTime: at(50),
      attributes: {
        'http.request.method': 'GET',
        'url.full': 'http://inventory.internal:9000/stock/42',
        'server.address': 'inventory.internal',
        'server.port': 9000,
        'peer.service': 'inventory-api',
        'http.response.status_code': 429,
      },
    },
    computeContext,
  );
  inventory.end(at(90));

  const error = new Error('no price for sku 42');
  error.name = 'PricingError';
  compute.recordException(error, at(100));
  compute.setStatus({ code: api.SpanStatusCode.ERROR, message: 'pricing failed' });
  compute.end(at(110));

  root.setAttribute('http.response.status_code', 200);
  root.end(at(120));

  let flushError = null;
  try {
    await provider.forceFlush();
  } catch (e) {
    flushError = e;
  }
  try {
    await provider.shutdown();
  } catch (e) {
    flushError = flushError || e;
  }

  const summary = common.summarizeExports(record.results, flushError);
  const traceId = root.spanContext().traceId;
  common.finish(
    {
      protocol: args.protocol,
      gzip: args.gzip,
      service: args.service,
      trace_id: traceId,
      xray_trace_id: common.xrayTraceId(traceId),
      span_ids: [root, db, compute, inventory].map((s) => s.spanContext().spanId),
      link: { trace_id: linked.traceId, span_id: linked.spanId },
      spans: record.spans,
      export_result: summary,
    },
    summary.ok ? 0 : 1,
  );
}

main().catch((e) => {
  process.stderr.write(`send_spans.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
