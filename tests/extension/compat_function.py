"""A Lambda function written for circuitbreaker-lambda's layer, the way its Python example is.

Standard library only: urllib to the layer's loopback API at ``/circuit/{id}``, no token, the
function's own name as the circuit id, the port from ``CIRCUITBREAKER_PORT``. Nothing in it
knows about this project: the compatibility test loads it unchanged. ``DEPENDENCY_URL`` is the
service it protects (the test's stub).
"""

import json
import os
import urllib.request

CIRCUITBREAKER_PORT = os.environ.get("CIRCUITBREAKER_PORT", "4243")
CIRCUITBREAKER_URL = f"http://127.0.0.1:{CIRCUITBREAKER_PORT}"
CIRCUIT_ID = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "default")
DEPENDENCY_URL = os.environ["DEPENDENCY_URL"]


def call_dependency():
    with urllib.request.urlopen(DEPENDENCY_URL, timeout=2) as resp:  # a 5xx raises HTTPError
        return json.loads(resp.read())


def record(outcome):
    request = urllib.request.Request(f"{CIRCUITBREAKER_URL}/circuit/{CIRCUIT_ID}/{outcome}", method="POST")
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.loads(resp.read())


def handler(event, context):
    try:
        with urllib.request.urlopen(f"{CIRCUITBREAKER_URL}/circuit/{CIRCUIT_ID}", timeout=5) as resp:
            check = json.loads(resp.read())
    except Exception as e:
        return {"statusCode": 502, "body": json.dumps({"error": f"Extension unavailable: {e}"})}

    if not check["allowed"]:
        return {"statusCode": 503, "body": json.dumps({"success": False, "error": "Circuit OPEN", "state": check["state"]})}

    try:
        result = call_dependency()
    except Exception as e:
        try:
            state = record("failure").get("state", "UNKNOWN")
        except Exception:
            state = "UNKNOWN"
        return {"statusCode": 500, "body": json.dumps({"success": False, "error": str(e), "state": state})}
    try:
        state = record("success").get("state", check["state"])
    except Exception:
        state = check["state"]
    return {"statusCode": 200, "body": json.dumps({"success": True, "result": result, "state": state})}
