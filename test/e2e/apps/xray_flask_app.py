#!/usr/bin/python3
"""A small Flask service instrumented with Debian's aws-xray-sdk 0.95, for Waggle's e2e tests.

One file, two roles, chosen on the command line:

  xray_flask_app.py --service backend-flask --port 5055 --downstream http://127.0.0.1:5056
  xray_flask_app.py --service user-service  --port 5056

The SDK sends its segments over UDP to AWS_XRAY_DAEMON_ADDRESS (host:port), which must be set.
Sampling is switched off in the recorder (``sampling=False``), which in SDK 0.95 means "sample
every request" (see aws_xray_sdk/ext/util.py calculate_sampling_decision), so every request
produces a trace.

Routes of backend-flask:
  /api/users/<uid>/profile  calls user-service through the patched ``requests`` library, so
                            user-service's segment has parent_id = our remote subsegment's id
  /api/many?n=N[&nested=1]  opens N sequential subsegments step-0..step-N-1 (inside a "batch"
                            subsegment with nested=1); once the segment holds more than 30
                            subsegments the SDK streams the closed ones as separate documents
                            (recorder.py stream_subsegments, AWSXRayRecorder._max_subsegments)
  /api/boom                 an exception escapes a captured function: 500, fault, cause
  /api/notifications        parent subsegment with a child, annotations and metadata, modelled
                            on the "notifications activities" example from AWS's X-Ray docs
Routes of user-service:
  /api/users/<uid>          one captured subsegment ("load-user")

Every response carries ``X-Amzn-Trace-Id: Root=<trace id>`` so that the test knows the trace id.
SDK 0.95's Flask middleware does not set that header itself (newer SDKs do), so this app adds it.
"""

import argparse
import os
import sys
import time
import traceback

from flask import Flask, jsonify, request

from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware

# The exception message the /api/boom route fails with; the test looks for it in `cause`.
BOOM_MESSAGE = "kaboom: the boom route always fails"


def instrumented_app(service):
    """A Flask app for `service` traced by the X-Ray SDK, and the patched `requests` module.

    Every response carries X-Amzn-Trace-Id: Root=<trace id>."""
    # configure() must run before patch() (see AWSXRayRecorder.configure's docstring).
    xray_recorder.configure(
        service=service,
        daemon_address=os.environ["AWS_XRAY_DAEMON_ADDRESS"],
        sampling=False,  # 0.95: no sampler consulted, every request is sampled
        context_missing="LOG_ERROR",
    )
    # `requests` is imported after patching so that the Session methods are wrapped.
    patch(["requests"])
    import requests  # noqa: E402  (deliberately after patch)

    app = Flask(service)
    XRayMiddleware(app, xray_recorder)

    # Registered after the middleware's own after_request hook, so Flask (which runs these hooks
    # in reverse registration order) calls it first, while the segment is still open.
    @app.after_request
    def add_trace_header(response):
        segment = xray_recorder.current_segment()
        if segment is not None:
            response.headers["X-Amzn-Trace-Id"] = "Root=" + segment.trace_id
        return response

    return app, requests


def create_app(service, downstream):
    """Builds the Flask app for `service`; `downstream` is user-service's base URL (or None)."""
    app, requests = instrumented_app(service)

    if service == "user-service":

        @xray_recorder.capture("load-user")
        def load_user(uid):
            return {"id": uid, "name": "user-" + uid}

        @app.route("/api/users/<uid>")
        def get_user(uid):
            return jsonify(load_user(uid))

        return app

    @app.route("/api/users/<uid>/profile")
    def get_profile(uid):
        # The patched Session.request opens a `remote` subsegment named after the URL and puts
        # its id into the outgoing X-Amzn-Trace-Id header as Parent=.
        reply = requests.get("%s/api/users/%s" % (downstream, uid), timeout=10)
        reply.raise_for_status()
        return jsonify({"profile": reply.json(), "downstream_status": reply.status_code})

    @app.route("/api/many")
    def many():
        count = int(request.args.get("n", "40"))
        nested = request.args.get("nested") == "1"
        if nested:  # the steps become children of an open subsegment, not of the segment
            xray_recorder.begin_subsegment("batch")
        for i in range(count):
            xray_recorder.begin_subsegment("step-%d" % i)
            xray_recorder.end_subsegment()
        if nested:
            xray_recorder.end_subsegment()
        return jsonify({"steps": count, "nested": nested})

    @xray_recorder.capture("failing-fn")
    def failing_fn():
        raise ValueError(BOOM_MESSAGE)

    @app.route("/api/boom")
    def boom():
        failing_fn()
        return "unreachable"

    # Without a handler, SDK 0.95 + Flask 2.2 break down on an unhandled exception: Flask's
    # handle_exception runs the middleware's after_request (which ends and sends the segment),
    # then the middleware's teardown hook finds no segment and raises AttributeError, so werkzeug
    # replaces the response with its own 500 page (losing our X-Amzn-Trace-Id header). So the
    # app handles the error itself, as real apps do, and records it on the segment too. Because
    # the exception was already recorded in the failing-fn subsegment, the SDK sets the
    # segment's `cause` to that exception's id (a string), not to a second copy.
    @app.errorhandler(ValueError)
    def handle_value_error(error):
        xray_recorder.current_segment().add_exception(
            error, traceback.extract_tb(error.__traceback__))
        return jsonify({"error": str(error)}), 500

    @app.route("/api/notifications")
    def notifications():
        # Annotations of all three JSON scalar kinds, on the segment and on subsegments.
        xray_recorder.current_segment().put_annotation("user_id", "andrew")
        parent = xray_recorder.begin_subsegment("notifications-activities")
        parent.put_annotation("notifications_count", 2)
        child = xray_recorder.begin_subsegment("mock-data")
        child.put_annotation("mock_data_cached", False)
        results = [{"uuid": "68f126b0-1ceb-4a33-88be-d90fa7109eee", "handle": "coco",
                    "message": "I am white unicorn"}]
        child.put_metadata("results", results, "notifications")
        child.put_metadata("now", time.time())  # namespace "default"
        xray_recorder.end_subsegment()
        parent.put_metadata("result_count", len(results), "notifications")
        xray_recorder.end_subsegment()
        return jsonify(results)

    return app


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--service", required=True, choices=["backend-flask", "user-service"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--downstream", help="user-service base URL (backend-flask only)")
    args = parser.parse_args(argv)
    if args.service == "backend-flask" and not args.downstream:
        parser.error("backend-flask needs --downstream")
    app = create_app(args.service, args.downstream)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False, debug=False)


if __name__ == "__main__":
    main(sys.argv[1:])
