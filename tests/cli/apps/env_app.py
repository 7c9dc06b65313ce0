"""Prints what `edge run` gave it and what its sidecar says about itself, then
exits with the code given as its argument."""

import json
import os
import sys
import urllib.request

NAMES = ("APP_ID", "APP_PORT", "DAPR_HTTP_PORT", "DAPR_GRPC_PORT", "DAPR_HTTP_ENDPOINT",
         "DAPR_API_TOKEN", "APP_API_TOKEN", "RUN_FILE_VAR")

seen: dict[str, object] = {name: os.environ.get(name) for name in NAMES}
request = urllib.request.Request(os.environ["DAPR_HTTP_ENDPOINT"] + "/v1.0/metadata",
                                 headers={"dapr-api-token": os.environ.get("DAPR_API_TOKEN", "")})
with urllib.request.urlopen(request, timeout=5) as response:
    seen["sidecar_says_id"] = json.load(response)["id"]
print("ENV " + json.dumps(seen))
sys.exit(int(sys.argv[1]))
