"""A gRPC app for the tests, written with the official SDK's gRPC extension
(`dapr.ext.grpc.App`) exactly as a user would: it echoes what the sidecar
delivered and writes each input binding event to $EVENTS_FILE."""

import base64
import json
import os
import sys
import threading

os.environ.setdefault("DAPR_SKIP_LEGACY_CHECK", "1")

import dapr.ext.grpc.app as sdk_app
from dapr.clients.grpc._request import BindingRequest, InvokeMethodRequest
from dapr.clients.grpc._response import InvokeMethodResponse
from dapr.ext.grpc import App
from dapr.proto import common_v1
from dapr.proto.runtime.v1.appcallback_pb2 import BindingEventResponse
from google.protobuf.wrappers_pb2 import StringValue

# The SDK hands a method only data, content type and metadata; the verb and
# query string of the call are kept here from the raw request so the tests can see them.
_seen = threading.local()


class _Recording(sdk_app._CallbackServicer):
    def OnInvoke(self, request, context):
        _seen.verb = request.http_extension.verb
        _seen.query = request.http_extension.querystring
        _seen.type_url = request.data.type_url
        return super().OnInvoke(request, context)

    def OnBindingEvent(self, request, context):
        # The SDK's handlers cannot answer with output bindings (its TODO); this
        # one binding's events ask the sidecar to pass their data on to `files`.
        if request.name == "cron-forward":
            return BindingEventResponse(to=["files"], data=b'{"forwarded": true}',
                                        concurrency=BindingEventResponse.PARALLEL)
        return super().OnBindingEvent(request, context)


sdk_app._CallbackServicer = _Recording
app = App()


@app.method("echo")
def echo(request: InvokeMethodRequest) -> InvokeMethodResponse:
    seen = {
        "data": base64.b64encode(request.data).decode(),
        "content_type": request.content_type,
        "verb": common_v1.HTTPExtension.Verb.Name(_seen.verb),
        "query": _seen.query,
        "type_url": _seen.type_url,
        "metadata": {k: v for k, v in request.get_metadata() if isinstance(v, str)},
    }
    return InvokeMethodResponse(json.dumps(seen).encode(), "application/json",
                                headers=(("x-app", "grpc"),))


@app.method("raw")
def raw(request: InvokeMethodRequest) -> InvokeMethodResponse:
    # Answers the data it got, with the content type it got.
    return InvokeMethodResponse(request.data, request.content_type)


@app.method("upper")
def upper(request: InvokeMethodRequest) -> StringValue:
    # A protobuf message in, a protobuf message out.
    given = StringValue()
    request.unpack(given)
    return StringValue(value=given.value.upper())


@app.method("boom")
def boom(request: InvokeMethodRequest) -> bytes:
    raise RuntimeError("the app failed on purpose")


@app.binding("cron-in")
def cron(request: BindingRequest) -> None:
    record = {"binding": "cron-in", "data": request.text(),
              "metadata": {k: v for k, v in request.get_metadata() if isinstance(v, str)},
              "binding_metadata": request.binding_metadata}
    with open(os.environ["EVENTS_FILE"], "a") as out:
        out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    app.run(int(sys.argv[1]), "127.0.0.1")
