"""checkout: places an order every second by invoking the `orders` app.

It only knows the app id "orders": its own sidecar finds where orders runs
and delivers the call. ORDER_COUNT=3 stops it after three orders.

    edge run --app-id checkout -- python3 app.py
"""

import asyncio
import contextlib
import os

from aiohttp import ClientError, ClientSession, ClientTimeout

# `edge run` (like `dapr run`) tells the app which port its sidecar listens on.
SIDECAR = f"http://127.0.0.1:{os.environ.get('DAPR_HTTP_PORT', '3500')}"
NEW_ORDER = f"{SIDECAR}/v1.0/invoke/orders/method/neworder"
ORDER_COUNT = int(os.environ.get("ORDER_COUNT") or 0)  # 0: run until stopped


async def place(http: ClientSession, order_id: int) -> bool:
    try:
        async with http.post(NEW_ORDER, json={"data": {"orderId": order_id}}) as r:
            if r.status == 200:
                print(f"Order {order_id} placed")
                return True
            print(f"Order {order_id} failed: HTTP {r.status} {await r.text()}")
    except ClientError as exc:
        print(f"Order {order_id} failed: {exc}")
    return False


async def main() -> None:
    async with ClientSession(timeout=ClientTimeout(total=5)) as http:
        order_id = 1
        while not ORDER_COUNT or order_id <= ORDER_COUNT:
            # On failure (orders still starting, say) the same order is sent
            # again, so every order id reaches orders once.
            if await place(http, order_id):
                order_id += 1
            await asyncio.sleep(1)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
        asyncio.run(main())
