'use strict';
// Emits a few log records through the real OpenTelemetry JS logs SDK and OTLP/HTTP (JSON)
// exporter, inside the context of a (never exported) span, so that each record carries a
// trace_id and span_id.
//
//   node send_logs.js --endpoint http://127.0.0.1:4318 [--team KEY] [--dataset NAME]
//        [--service NAME] [--gzip] [--timeout-ms 10000]
//
// --endpoint is the base URL; /v1/logs is appended. The records: an INFO with a string body,
// a WARN with a map body, an ERROR with exception.* attributes and an event name.
// Prints one JSON line {"trace_id", "span_id", "records": N, "export_result"} and exits 0 when
// every export succeeded, 1 when one failed, 2 on a bad command line.

const common = require('./common');

const USAGE = `usage: node send_logs.js --endpoint URL [--team KEY] [--dataset NAME]
       [--service NAME] [--gzip] [--timeout-ms N]
`;

const args = common.parseCommandLine(
  {
    endpoint: { type: 'string' },
    team: { type: 'string' },
    dataset: { type: 'string' },
    service: { type: 'string', default: 'billing-node' },
    gzip: { type: 'boolean', default: false },
    'timeout-ms': { type: 'string', default: '10000' },
    help: { type: 'boolean', default: false },
  },
  USAGE,
  ['endpoint'],
);

const api = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');
const { AWSXRayIdGenerator } = require('@opentelemetry/id-generator-aws-xray');

async function main() {
  const headers = {};
  if (args.team !== undefined) headers['x-honeycomb-team'] = args.team;
  if (args.dataset !== undefined) headers['x-honeycomb-dataset'] = args.dataset;
  const exporter = new OTLPLogExporter({
    url: `${args.endpoint.replace(/\/+$/, '')}/v1/logs`,
    headers,
    compression: args.gzip ? 'gzip' : 'none',
    timeoutMillis: Number(args['timeout-ms']),
  });
  const results = common.recordExports(exporter);
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': args.service }),
    processors: [new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 60000 })],
  });
  const logger = provider.getLogger('waggle-e2e-send-logs', '1.0.0');

  // The span context the records belong to (an X-Ray-valid trace id, like the span tests use).
  const ids = new AWSXRayIdGenerator();
  const spanContext = {
    traceId: ids.generateTraceId(),
    spanId: ids.generateSpanId(),
    traceFlags: api.TraceFlags.SAMPLED,
  };
  const context = api.trace.setSpanContext(api.ROOT_CONTEXT, spanContext);

  const records = [
    {
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      body: 'invoice 1042 created',
      attributes: { 'invoice.id': 1042, 'customer.tier': 'gold' },
    },
    {
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      body: { event: 'retry', attempt: 2, backend: 'ledger' },
      attributes: { 'retry.delay_ms': 250.5 },
    },
    {
      severityNumber: SeverityNumber.ERROR,
      severityText: 'ERROR',
      eventName: 'billing.charge.exception',
      body: 'charge failed',
      attributes: {
        'exception.type': 'CardDeclined',
        'exception.message': 'card 4242 declined',
        'retry.final': true,
      },
    },
  ];
  for (const record of records) logger.emit({ ...record, context });

  let flushError = null;
  try {
    await provider.forceFlush();
    await provider.shutdown();
  } catch (e) {
    flushError = e;
  }
  const summary = common.summarizeExports(results, flushError);
  common.finish(
    {
      service: args.service,
      trace_id: spanContext.traceId,
      xray_trace_id: common.xrayTraceId(spanContext.traceId),
      span_id: spanContext.spanId,
      records: records.length,
      export_result: summary,
    },
    summary.ok ? 0 : 1,
  );
}

main().catch((e) => {
  process.stderr.write(`send_logs.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
