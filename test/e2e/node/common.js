'use strict';
// Helpers shared by the client scripts of Waggle's e2e tests: argument parsing, recording what
// an exporter's export() calls ended with, and the one JSON line each script prints.

const { parseArgs } = require('node:util');

// Parses process.argv with util.parseArgs; prints `usage` and exits 2 on a bad command line,
// which includes one that leaves out an option named in `required`.
function parseCommandLine(options, usage, required = []) {
  let values;
  try {
    ({ values } = parseArgs({ options, strict: true, allowPositionals: false }));
  } catch (error) {
    process.stderr.write(`${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  for (const name of required) {
    if (!values[name]) {
      process.stderr.write(`--${name} is required\n\n${usage}`);
      process.exit(2);
    }
  }
  return values;
}

// Exits 2 with `usage` unless `value` is one of `allowed`.
function requireChoice(name, value, allowed, usage) {
  if (!allowed.includes(value)) {
    const choices = allowed.join(', ');
    process.stderr.write(`--${name} must be one of ${choices}, got ${value}\n\n${usage}`);
    process.exit(2);
  }
}

// A plain-JSON description of an ExportResult ({code, error}) from the SDK.
function describeResult(result, count) {
  const out = { code: result.code, ok: result.code === 0, count };
  if (result.error) {
    const e = result.error;
    out.error = {
      name: e.name,
      message: e.message,
      // OTLPExporterError: the HTTP status and the response body; gRPC errors: the status code.
      code: e.code,
      data: typeof e.data === 'string' ? e.data : undefined,
      details: typeof e.details === 'string' ? e.details : undefined,
    };
  }
  return out;
}

// Wraps `exporter.export` so that every export's result is appended to the returned array
// (the SDK's processors otherwise only hand failures to the global error handler).
function recordExports(exporter) {
  const results = [];
  const original = exporter.export.bind(exporter);
  exporter.export = (items, done) => {
    original(items, (result) => {
      results.push(describeResult(result, items.length));
      done(result);
    });
  };
  return results;
}

// A summary of recorded export results: ok only when there was at least one export, all of
// them succeeded and `flushError` (what forceFlush/shutdown threw, if anything) is null.
function summarizeExports(results, flushError = null) {
  const summary = {
    ok: results.length > 0 && results.every((r) => r.ok) && !flushError,
    exports: results,
  };
  if (flushError) summary.flush_error = String(flushError.message || flushError);
  return summary;
}

// Prints `object` as one JSON line on stdout, then exits with `code` once stdout is drained.
function finish(object, code) {
  process.stdout.write(`${JSON.stringify(object)}\n`, () => process.exit(code));
}

// The X-Ray form of a 32-hex trace id: 1-<8 hex epoch>-<24 hex>.
function xrayTraceId(traceId) {
  return `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;
}

// An HrTime [seconds, nanoseconds] as epoch seconds (a double, as X-Ray documents carry them).
function hrSeconds(hr) {
  return hr[0] + hr[1] / 1e9;
}

// The API's SpanKind and SpanStatusCode numbers by name (they differ from OTLP's numbers).
const SPAN_KINDS = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS_CODES = ['UNSET', 'OK', 'ERROR'];

// What the SDK handed to the exporter for one span, as plain JSON: the record the tests compute
// their expectations from. Kind and status code are names ("SERVER", "ERROR").
function describeSpan(span) {
  const context = span.spanContext();
  return {
    name: span.name,
    kind: SPAN_KINDS[span.kind],
    trace_id: context.traceId,
    span_id: context.spanId,
    parent_span_id: span.parentSpanContext ? span.parentSpanContext.spanId : null,
    start_time: hrSeconds(span.startTime),
    end_time: hrSeconds(span.endTime),
    status: { code: STATUS_CODES[span.status.code], message: span.status.message || '' },
    attributes: { ...span.attributes },
    events: span.events.map((e) => ({
      name: e.name,
      time: hrSeconds(e.time),
      attributes: { ...(e.attributes || {}) },
    })),
    links: span.links.map((l) => ({
      trace_id: l.context.traceId,
      span_id: l.context.spanId,
      attributes: { ...(l.attributes || {}) },
    })),
    resource: { ...span.resource.attributes },
    scope: { name: span.instrumentationScope.name, version: span.instrumentationScope.version },
  };
}

// Wraps a span exporter like recordExports and also keeps a description of every span it was
// given, in `spans` (whether or not the export succeeded).
function recordSpanExports(exporter) {
  const spans = [];
  const original = exporter.export.bind(exporter);
  exporter.export = (items, done) => {
    for (const span of items) spans.push(describeSpan(span));
    original(items, done);
  };
  return { results: recordExports(exporter), spans };
}

module.exports = {
  parseCommandLine,
  requireChoice,
  recordExports,
  summarizeExports,
  finish,
  xrayTraceId,
  hrSeconds,
  describeSpan,
  recordSpanExports,
};
