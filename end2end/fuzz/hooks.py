"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by fuzz_api.py).

Every generated request body that is a JSON object carries the valid API key made for the run,
so that the fuzzer reaches the handlers behind the key check (a made-up key only ever gets
403). And half the time an id field (user_id, kasm_id, image_id, group_id, wherever it is in
the body) is set to one that exists (BERTH_FUZZ_IDS, a JSON object of field name -> ids), so
that the handlers get past "not found" with the rest of the body still fuzzed.
"""
import json
import os
import random

import schemathesis

KEY = os.environ["BERTH_FUZZ_API_KEY"]
SECRET = os.environ["BERTH_FUZZ_API_KEY_SECRET"]
KNOWN_IDS = json.loads(os.environ.get("BERTH_FUZZ_IDS", "{}"))
# Seeded: the same run substitutes the same way.
CHOICE = random.Random(12)


def with_known_ids(value):
    if isinstance(value, dict):
        return {
            name: CHOICE.choice(KNOWN_IDS[name])
            if name in KNOWN_IDS and KNOWN_IDS[name] and CHOICE.random() < 0.5
            else with_known_ids(field)
            for name, field in value.items()
        }
    return value


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if isinstance(case.body, dict):
        case.body = {**with_known_ids(case.body), "api_key": KEY, "api_key_secret": SECRET}


# request_kasm starts real desktops: a fuzzer that asks for enough of them fills every agent,
# and Berth then answers 503 "No resources are available" (Kasm's message), the one 5xx that
# is an expected state rather than a fault. Every other 5xx still fails the run.
FULL_HOUSE = "No resources are available"


@schemathesis.check
def not_a_server_error_but_full_agents(ctx, response, case):
    """No 5xx answer, except request_kasm's 503 when every agent is full."""
    if response.status_code < 500:
        return None
    if (
        response.status_code == 503
        and case.operation.path.endswith("/request_kasm")
        and FULL_HOUSE in response.text
    ):
        return None
    raise AssertionError(f"server error {response.status_code}: {response.text[:300]}")
