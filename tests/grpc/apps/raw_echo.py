"""A gRPC app with no .proto: methods of a made-up service `test.Echo`, served
from raw bytes, for the proxying tests.

- Say (unary): answers JSON with the request body and the metadata it got
- Count (server streaming): the request is a number n; answers "1" ... "n"
- Fail (unary): answers NOT_FOUND
"""

import asyncio
import json
import sys

import grpc


async def say(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    metadata = dict(context.invocation_metadata() or ())
    return json.dumps({"body": request.decode(), "caller": metadata.get("dapr-caller-app-id"),
                       "custom": metadata.get("x-custom"),
                       "token": metadata.get("dapr-api-token")}).encode()


async def count(request: bytes, context: grpc.aio.ServicerContext):
    for n in range(1, int(request.decode()) + 1):
        yield str(n).encode()


async def fail(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    return b""


HANDLERS = {
    "Say": grpc.unary_unary_rpc_method_handler(say),
    "Count": grpc.unary_stream_rpc_method_handler(count),
    "Fail": grpc.unary_unary_rpc_method_handler(fail),
}


async def main(port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo",
                                                                          HANDLERS),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
