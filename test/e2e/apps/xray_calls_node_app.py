#!/usr/bin/python3
"""A Flask service instrumented with Debian's aws-xray-sdk 0.95 that calls an OpenTelemetry-traced
Node service, for Waggle's mixed X-Ray + OTLP end-to-end test.

  xray_calls_node_app.py --service orders-flask --port 5057 --node http://127.0.0.1:41234

The SDK sends its segments over UDP to AWS_XRAY_DAEMON_ADDRESS (host:port), which must be set;
sampling is off in the recorder, so every request is traced (see xray_flask_app.py).

Route:
  /api/orders/<oid>/quote  GETs <node>/work?order=<oid> through the patched ``requests`` library.
                           The patch opens a `remote` subsegment and sends
                           X-Amzn-Trace-Id: Root=<trace id>;Parent=<that subsegment's id>;Sampled=1,
                           so the Node service's SERVER span (node/mixed_service.js, AWS X-Ray
                           propagator) joins this trace as a child of that subsegment.
                           Answers {"order", "node": <the Node service's JSON answer>}.

Every response carries ``X-Amzn-Trace-Id: Root=<trace id>`` so that the test knows the trace id
(SDK 0.95's middleware does not add it itself).
"""

import argparse
import sys

from flask import jsonify

from xray_flask_app import instrumented_app  # the same SDK set-up as the other test service


def create_app(service, node_url):
    """Builds the Flask app for `service`; `node_url` is the Node service's base URL."""
    app, requests = instrumented_app(service)

    @app.route("/api/orders/<oid>/quote")
    def quote(oid):
        reply = requests.get("%s/work" % node_url, params={"order": oid}, timeout=10)
        reply.raise_for_status()
        return jsonify({"order": oid, "node": reply.json()})

    return app


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--service", default="orders-flask")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--node", required=True, help="the Node service's base URL")
    args = parser.parse_args(argv)
    app = create_app(args.service, args.node.rstrip("/"))
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False, debug=False)


if __name__ == "__main__":
    main(sys.argv[1:])
