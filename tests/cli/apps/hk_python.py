"""The shape of quickstarts' hello-kubernetes python app: posts orders to
DAPR_HTTP_ENDPOINT/neworder with the header `dapr-app-id: nodeapp`."""

import json
import os
import time
import urllib.error
import urllib.request

endpoint = os.environ.get("DAPR_HTTP_ENDPOINT", "http://localhost:3500")
n = 0
while True:
    n += 1
    request = urllib.request.Request(
        f"{endpoint}/neworder", data=json.dumps({"data": {"orderId": n}}).encode(),
        headers={"dapr-app-id": "nodeapp", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            print(f"HTTP {response.status} for order {n}")
    except (urllib.error.URLError, OSError) as exc:
        print(f"order {n} failed: {exc}")
    time.sleep(0.5)
