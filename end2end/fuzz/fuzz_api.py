"""Fuzzes a running Berth's Developer API with schemathesis, from the OpenAPI document it
serves (GET /api/openapi.json), with a valid API key in every request (made through Admin ->
Developers' server function, as kasm_client_flow.py makes its key). Passes only if no request
is answered with a server error (5xx), the one expected state aside: request_kasm's 503 when
the fuzzer's desktops have filled every agent (hooks.py). Bounded so that CI stays short: a few examples per
endpoint and a hard time limit.

Needs BERTH_URL and BERTH_ADMIN_PASSWORD (./scripts/test provides them); the schemathesis
executable beside this interpreter (end2end/fuzz/requirements.txt). Extra arguments go to
`schemathesis run`.
"""
import json
import os
import subprocess
import sys
import tempfile
import uuid

import requests

BASE = os.environ["BERTH_URL"].rstrip("/")
HERE = os.path.dirname(os.path.abspath(__file__))
# Examples per endpoint in the fuzzing phase, and the whole run's limit.
MAX_EXAMPLES = os.environ.get("BERTH_FUZZ_MAX_EXAMPLES", "25")
TIME_LIMIT_SECS = int(os.environ.get("BERTH_FUZZ_TIME_LIMIT", "300"))
# Every permission but those that reach administrators or run commands as root.
PERMISSIONS = (
    "User, Users Auth Session, Users View, Users Create, Users Modify, Users Delete, "
    "Sessions View, Sessions Modify, Images View, Groups Modify"
)


def api_key():
    """Signs in as admin and makes a key, as the Developers page does."""
    browser = requests.Session()
    signed_in = browser.post(
        f"{BASE}/rpc/login",
        data={"username": "admin", "password": os.environ["BERTH_ADMIN_PASSWORD"]},
    )
    signed_in.raise_for_status()
    made = browser.post(
        f"{BASE}/rpc/admin/create_api_key",
        data={"name": "api fuzzing", "permissions": PERMISSIONS, "read_only": "false", "expires": ""},
    )
    made.raise_for_status()
    body = made.json()
    return body["api_key"], body["api_key_secret"]


def call(endpoint, key, secret, **fields):
    answer = requests.post(
        f"{BASE}/api/public/{endpoint}", json={"api_key": key, "api_key_secret": secret, **fields}
    )
    answer.raise_for_status()
    return answer.json()


def known_ids(key, secret):
    """Ids that exist, for the hooks to put into bodies: a user made for the fuzzing (not an
    administrator), the images, and a session of that user when one can be requested."""
    user = call("create_user", key, secret, target_user={
        "username": f"fuzz-target-{uuid.uuid4().hex[:8]}", "password": "fuzz-target-password"})["user"]
    images = [image["image_id"] for image in call("get_images", key, secret)["images"]]
    ids = {"user_id": [user["user_id"]], "image_id": images, "kasm_id": []}
    if images:
        asked = requests.post(f"{BASE}/api/public/request_kasm", json={
            "api_key": key, "api_key_secret": secret, "user_id": user["user_id"],
            "image_id": images[0]})
        if asked.ok:
            ids["kasm_id"].append(asked.json()["kasm_id"])
    return ids


def destroy_sessions(key, secret):
    """Ends every session left (the fuzzer may have started some), so no container outlives
    the run."""
    for kasm in call("get_kasms", key, secret)["kasms"]:
        requests.post(f"{BASE}/api/public/destroy_kasm", json={
            "api_key": key, "api_key_secret": secret, "user_id": kasm["user_id"],
            "kasm_id": kasm["kasm_id"]})


def main():
    key, secret = api_key()
    environment = dict(
        os.environ,
        BERTH_FUZZ_API_KEY=key,
        BERTH_FUZZ_API_KEY_SECRET=secret,
        BERTH_FUZZ_IDS=json.dumps(known_ids(key, secret)),
        SCHEMATHESIS_HOOKS="hooks",
        PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    command = [
        schemathesis,
        "run",
        f"{BASE}/api/openapi.json",
        "--url",
        BASE,
        "--checks",
        # hooks.py: not_a_server_error, with request_kasm's 503 for full agents allowed.
        "not_a_server_error_but_full_agents",
        "--max-examples",
        MAX_EXAMPLES,
        # Reproducible runs: the same cases every time.
        "--generation-deterministic",
        *sys.argv[1:],
    ]
    print("api fuzzing:", " ".join(command[1:]), flush=True)
    try:
        # In a scratch folder: schemathesis leaves a .schemathesis/ folder where it runs.
        with tempfile.TemporaryDirectory() as scratch:
            finished = subprocess.run(command, env=environment, cwd=scratch, timeout=TIME_LIMIT_SECS)
    except subprocess.TimeoutExpired:
        print(f"api fuzzing: FAIL, not finished within {TIME_LIMIT_SECS} s")
        return 1
    finally:
        destroy_sessions(key, secret)
    outcome = "passed" if finished.returncode == 0 else "FAIL (see the failures above)"
    print(f"api fuzzing: {outcome}")
    return finished.returncode


if __name__ == "__main__":
    sys.exit(main())
