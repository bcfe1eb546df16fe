'use strict';
// One segment sent through the AWS X-Ray SDK for Node.js (aws-xray-sdk-core) to an X-Ray daemon
// address over UDP, holding text cut through a surrogate pair: what a length limit does to a
// JavaScript string with an emoji in it. The SDK writes the segment with JSON.stringify, which
// writes the lone half as the escape \ud83d.
//
//   node xray_cut_text.js --daemon 127.0.0.1:2000 [--name node-cut-text]
//
// The text ('report-' + the first half of U+1F4C4 + '.csv') goes in an annotation and in a
// metadata value. Prints one JSON line, {trace_id, id, name, text}, and exits 0.

const common = require('./common');

const USAGE = 'usage: node xray_cut_text.js --daemon HOST:PORT [--name NAME]\n';

const args = common.parseCommandLine(
  {
    daemon: { type: 'string' },
    name: { type: 'string', default: 'node-cut-text' },
    help: { type: 'boolean', default: false },
  },
  USAGE,
  ['daemon'],
);

const AWSXRay = require('aws-xray-sdk-core');

AWSXRay.setDaemonAddress(args.daemon);

const text = `report-${'\u{1F4C4}'.slice(0, 1)}.csv`;
const segment = new AWSXRay.Segment(args.name);
segment.addAnnotation('file', text);
segment.addMetadata('file', text);
segment.close();

// The SDK sends on an unref'd socket and only logs the outcome: the process stays up a moment
// for the datagram to leave (the test reads the segment back, so a lost one fails it there).
setTimeout(() => {
  process.stdout.write(`${JSON.stringify({
    trace_id: segment.trace_id,
    id: segment.id,
    name: args.name,
    text,
  })}\n`);
}, 300);
