"""Invokes another app through its own sidecar until the call succeeds, prints
the reply, then waits to be stopped. Arguments: target app id, method."""

import os
import sys
import time
import urllib.error
import urllib.request

target, method = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{os.environ['DAPR_HTTP_PORT']}/v1.0/invoke/{target}/method/{method}"
print(f"PID {os.getpid()}")
deadline = time.monotonic() + 10
while True:
    try:
        with urllib.request.urlopen(url, data=b'{"from": "caller"}', timeout=5) as response:
            print(f"REPLY {response.status} {response.read().decode()}")
            break
    except (urllib.error.URLError, OSError) as exc:
        if time.monotonic() > deadline:
            print(f"GAVE UP {exc}")
            break
        time.sleep(0.2)
while True:
    time.sleep(1)
