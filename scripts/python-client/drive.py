"""Drives every environment-release and release-policy call of LaunchDarkly's generated
Python client (launchdarkly-api 25.0.1) against the fake LaunchDarkly, and checks that its
models accept every answer.

Run by scripts/python-client-test.mjs, which starts the fake on 127.0.0.1 and passes its
URL and token in LD_BASE_URI and LD_ACCESS_TOKEN. The fake's controls (its clock, the
regression hook, health checks, approvals) are asked for on stdout, one line
`CONTROL {"method": ..., "args": [...]}`, and answered on stdin with one JSON line.

The generated client deserializes each answer into its pydantic models, which validate
types, enums, UUIDs and required fields: a model that rejects an answer raises, and this
script exits non-zero. On top of that, every answer is compared with the model's own
serialization, so a field the models do not know fails too.
"""

import json
import os
import sys

import launchdarkly_api
from launchdarkly_api.api.environment_releases_beta_api import EnvironmentReleasesBetaApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.release_policies_beta_api import ReleasePoliciesBetaApi
from launchdarkly_api.exceptions import ApiException
from launchdarkly_api.models.environment_release import EnvironmentRelease
from launchdarkly_api.models.environment_release_collection import EnvironmentReleaseCollection
from launchdarkly_api.models.feature_flag import FeatureFlag
from launchdarkly_api.models.post_release_policy_request import PostReleasePolicyRequest
from launchdarkly_api.models.put_release_policy_request import PutReleasePolicyRequest
from launchdarkly_api.models.release_policies_response import ReleasePoliciesResponse
from launchdarkly_api.models.release_policy import ReleasePolicy
from launchdarkly_api.models.start_environment_release_request import StartEnvironmentReleaseRequest
from launchdarkly_api.models.stop_environment_release_request import StopEnvironmentReleaseRequest

BETA = "beta"
PROJECT = "web"
FLAG = "new-checkout"
CALLS = {}


def control(method, *args):
    """Asks the runner to call one of the fake's controls; returns its JSON answer."""
    sys.stdout.write("CONTROL " + json.dumps({"method": method, "args": list(args)}) + "\n")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("the runner went away")
    answer = json.loads(line)
    if "error" in answer:
        raise AssertionError(f"control {method} failed: {answer['error']}")
    return answer.get("value")


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def unknown_fields(raw, dumped, path="$"):
    """Fields of the answer (non-null) that the model's serialization does not have."""
    out = []
    if isinstance(raw, dict) and isinstance(dumped, dict):
        for key, value in raw.items():
            if key not in dumped:
                if value is not None:
                    out.append(f"{path}.{key}")
            else:
                out += unknown_fields(value, dumped[key], f"{path}.{key}")
    elif isinstance(raw, list) and isinstance(dumped, list):
        for i, (a, b) in enumerate(zip(raw, dumped)):
            out += unknown_fields(a, b, f"{path}[{i}]")
    return out


def accepted(name, response, status, model):
    """The answer of a `*_with_http_info` call: its status, its model, every field known."""
    CALLS[name] = CALLS.get(name, 0) + 1
    check(response.status_code == status, f"{name}: status {response.status_code}, expected {status}")
    data = response.data
    raw = json.loads(response.raw_data) if response.raw_data else None
    if model is None:
        check(data is None, f"{name}: expected no body")
        return None
    items = data if isinstance(data, list) else [data]
    raws = raw if isinstance(data, list) else [raw]
    for item, raw_item in zip(items, raws):
        check(isinstance(item, model), f"{name}: the client gave {type(item).__name__}, not {model.__name__}")
        extra = unknown_fields(raw_item, item.model_dump(by_alias=True, mode="json"))
        check(not extra, f"{name}: fields the {model.__name__} model does not know: {extra}")
    return data


def refused(name, status, code, call):
    """A call the fake must refuse with `status` and `code`; the client raises ApiException."""
    CALLS[name] = CALLS.get(name, 0) + 1
    try:
        call()
    except ApiException as e:
        check(e.status == status, f"{name}: status {e.status}, expected {status}: {e.body}")
        # The client deserialized the error body into its model for this status (Error, or
        # StartEnvironmentReleaseBadRequest); a body the model rejects leaves `data` empty.
        check(e.data is not None, f"{name}: the client's error model rejected the body {e.body}")
        extra = unknown_fields(json.loads(e.body), e.data.model_dump(by_alias=True, mode="json"))
        check(not extra, f"{name}: fields the {type(e.data).__name__} model does not know: {extra}")
        body = json.loads(e.body)
        check(body.get("code") == code, f"{name}: code {body.get('code')!r}, expected {code!r}")
        check(isinstance(body.get("message"), str) and body["message"], f"{name}: no message")
        return body
    raise AssertionError(f"{name}: expected {status} {code}, the call succeeded")


def main():
    configuration = launchdarkly_api.Configuration(host=os.environ["LD_BASE_URI"])
    configuration.api_key["ApiKey"] = os.environ["LD_ACCESS_TOKEN"]
    client = launchdarkly_api.ApiClient(configuration)
    releases = EnvironmentReleasesBetaApi(client)
    policies = ReleasePoliciesBetaApi(client)
    flags = FeatureFlagsApi(client)

    # The models validate: an answer they cannot take raises (so this test is not vacuous).
    try:
        EnvironmentRelease.from_dict({"id": "not-a-uuid", "status": "bogus"})
    except Exception:  # noqa: BLE001 - pydantic's ValidationError
        pass
    else:
        raise AssertionError("EnvironmentRelease accepted an invalid release: the models do not validate")

    # The client's default LD-API-Version (20240415) overrides the call's: refused with 403.
    refused("list without the beta header", 403, "forbidden", lambda: releases.list_environment_releases(BETA, PROJECT, FLAG, "production"))
    client.set_default_header("LD-API-Version", BETA)

    # The flag: its variations (the FeatureFlag model of the same client).
    flag = accepted("get_feature_flag", flags.get_feature_flag_with_http_info(PROJECT, FLAG), 200, FeatureFlag)
    variations = {v.value: v.id for v in flag.variations}
    check(set(variations) == {True, False}, f"variations {variations}")
    check(flag.environments["production"].on is True, "new-checkout is on in production")
    on, off = variations[True], variations[False]
    kind = {"contextKind": "user", "attribute": "kind", "op": "in", "values": ["user"]}

    def start(env, body, flag_key=FLAG):
        request = StartEnvironmentReleaseRequest.from_dict({"originalVariationId": off, "targetVariationId": on, **body})
        return lambda: releases.start_environment_release_with_http_info(BETA, PROJECT, flag_key, env, request)

    def stop(env, release_id, resolution, comment=None, flag_key=FLAG):
        request = StopEnvironmentReleaseRequest.from_dict({"resolution": resolution, "comment": comment})
        return lambda: releases.stop_environment_release_with_http_info(BETA, PROJECT, flag_key, env, release_id, request)

    def get(env, release_id, expand=None):
        return accepted("get_environment_release", releases.get_environment_release_with_http_info(BETA, PROJECT, FLAG, env, release_id, expand=expand), 200, EnvironmentRelease)

    # List: empty at first.
    page = accepted("list_environment_releases", releases.list_environment_releases_with_http_info(BETA, PROJECT, FLAG, "test"), 200, EnvironmentReleaseCollection)
    check(page.items == [] and page.total_count == 0, "no releases yet")

    # A progressive, manual, two-phase release in test: steps, the waiting between phases.
    two_phases = {
        "randomizationUnit": "user",
        "advancementMode": "manual",
        "cleanupBehavior": "remove_rules_and_update_default_rule",
        "comment": "from the Python client",
        "phases": [
            {"clauses": [kind, {"contextKind": "user", "attribute": "country", "op": "in", "values": ["nz"]}], "description": "New Zealand", "steps": [{"allocation": 10000, "durationMillis": 60000}, {"allocation": 100000, "durationMillis": 60000}]},
            {"clauses": [kind], "description": "Everyone", "steps": [{"allocation": 50000, "durationMillis": 60000}]},
        ],
    }
    release = accepted("start_environment_release", start("test", two_phases)(), 201, EnvironmentRelease)
    check(release.status.value == "in_progress" and release.current_phase_index == 0, f"started: {release.status}")
    check(release.kind.value == "progressive" and release.metrics == [], "progressive")
    again = {**two_phases, "phases": [{**p, "description": p["description"] + " (again)", "clauses": p["clauses"] + [{"contextKind": "user", "attribute": "again", "op": "in", "values": [True]}]} for p in two_phases["phases"]]}
    refused("start while one is active", 409, "release_already_active", start("test", again))
    control("advance", 60000)
    release = get("test", release.id)
    check(release.phases[0].current_step_index == 1 and release.phases[0].steps[0].ended_at is not None, "second step")
    control("advance", 60000)
    release = get("test", release.id)
    check(release.status.value == "waiting" and release.status_reason.value == "waiting_phase_ended" and release.current_phase_index is None, f"waiting: {release.status} {release.status_reason}")
    refused("stop current phase between phases", 400, "invalid_request", stop("test", release.id, "roll_forward_current_phase_and_remove_pending_phases"))
    control("continueRelease", str(release.id))
    control("advance", 60000)
    release = get("test", release.id)
    check(release.status.value == "completed" and release.status_reason.value == "completed_automatic" and release.ended_at is not None, f"completed: {release.status}")
    same = accepted("stop_environment_release", stop("test", release.id, "roll_back_all_phases_and_remove_pending_phases")(), 200, EnvironmentRelease)
    check(same.status.value == "completed", "stopping a finished release changes nothing")

    # Every stop resolution, each on a fresh three-phase automatic release in staging.
    # (Rules a release leaves on the flag stay: each release gets clauses of its own.)
    def three(n):
        return {"randomizationUnit": "user", "advancementMode": "automatic", "phases": [{"clauses": [kind, {"contextKind": "user", "attribute": "tier", "op": "in", "values": [f"{name}{n}"]}], "steps": [{"allocation": 20000, "durationMillis": 1000}]} for name in ("a", "b", "c")]}

    outcomes = {
        "roll_forward_all_phases": ("completed", "completed_manual", ["completed", "completed", "completed"]),
        "roll_forward_current_phase_and_remove_pending_phases": ("completed", "completed_manual", ["completed", "completed", "reverted"]),
        "roll_back_all_phases_and_remove_pending_phases": ("reverted", "reverted_manual", ["reverted", "reverted", "reverted"]),
        "roll_back_current_phase_and_remove_pending_phases": ("reverted", "reverted_manual", ["completed", "reverted", "reverted"]),
    }
    for n, (resolution, (status, reason, phases)) in enumerate(outcomes.items()):
        release = accepted("start_environment_release", start("staging", three(n))(), 201, EnvironmentRelease)
        control("advance", 1500)  # phase 0 done, phase 1 running
        stopped = accepted("stop_environment_release", stop("staging", release.id, resolution, "stopped by the test")(), 200, EnvironmentRelease)
        got = [p.status.value for p in stopped.phases]
        check(stopped.status.value == status and stopped.status_reason.value == reason and got == phases, f"{resolution}: {stopped.status} {stopped.status_reason} {got}")

    # Paging with the links (and their _snapshot), newest first; the kind filter.
    control("advance", 1)
    first = accepted("list_environment_releases", releases.list_environment_releases_with_http_info(BETA, PROJECT, FLAG, "staging", limit=3), 200, EnvironmentReleaseCollection)
    check(first.total_count == 4 and len(first.items) == 3 and "next" in first.links, "page 1 of 2")
    snapshot = first.links["next"].href.split("_snapshot=")[1].split("&")[0]
    second = accepted("list_environment_releases", releases.list_environment_releases_with_http_info(BETA, PROJECT, FLAG, "staging", limit=3, offset=3, snapshot=snapshot), 200, EnvironmentReleaseCollection)
    check(len(second.items) == 1 and "prev" in second.links and "next" not in second.links, "page 2 of 2")
    check(first.items[0].created_at >= first.items[-1].created_at >= second.items[0].created_at, "newest first")
    guarded_only = accepted("list_environment_releases", releases.list_environment_releases_with_http_info(BETA, PROJECT, FLAG, "staging", filter="kind equals guarded"), 200, EnvironmentReleaseCollection)
    check(guarded_only.total_count == 0, "no guarded releases in staging")

    # Guarded releases in production: metrics, expand=metrics, the regression hook.
    guarded = {"randomizationUnit": "user", "metrics": [{"metricKey": "checkout-errors", "autoRollback": True}, {"metricKey": "checkout-latency"}], "phases": [{"clauses": [kind], "steps": [{"allocation": 5000, "durationMillis": 600000}, {"allocation": 50000, "durationMillis": 600000}]}]}
    refused("guarded over 50%", 400, "invalid_request", start("production", {**guarded, "phases": [{"clauses": [kind], "steps": [{"allocation": 60000, "durationMillis": 1000}]}]}))
    refused("a phase without the kind clause", 400, "invalid_request", start("production", {**guarded, "phases": [{"clauses": [{"contextKind": "user", "attribute": "country", "op": "in", "values": ["nz"]}], "steps": [{"allocation": 5000, "durationMillis": 1000}]}]}))
    control("setHealthChecks", ["flag_evaluations_with_context", "metric_events_any"])
    body = refused("failing health checks", 400, "health_checks_failed", start("production", guarded))
    kinds = [(c["kind"], c.get("metricKey")) for c in body["failingChecks"]]
    check(kinds == [("flag_evaluations_with_context", None), ("metric_events_any", "checkout-errors"), ("metric_events_any", "checkout-latency")], f"failing checks: {kinds}")
    release = accepted("start_environment_release", start("production", {**guarded, "bypassHealthChecks": ["flag_evaluations_with_context", "metric_events_any"]})(), 201, EnvironmentRelease)
    control("setHealthChecks", [])
    check(release.kind.value == "guarded" and release.phases[0].metric_statuses["checkout-errors"].value == "ok", "guarded, metrics ok")
    expanded = get("production", release.id, expand=["metrics"])
    check(all(m.definition is not None and m.definition.key == m.metric_key for m in expanded.metrics), "expand=metrics attaches definitions")
    control("reportRegression", str(release.id), "checkout-latency")
    waiting = get("production", release.id)
    check(waiting.status.value == "waiting" and waiting.status_reason.value == "waiting_regression_detected" and waiting.phases[0].metric_statuses["checkout-latency"].value == "regressed", "waiting on a regression")
    control("dismissRegression", str(release.id), "checkout-latency")
    control("reportRegression", str(release.id), "checkout-errors")
    reverted = get("production", release.id)
    check(reverted.status.value == "reverted" and reverted.status_reason.value == "reverted_regression_detected", f"reverted: {reverted.status}")
    check(reverted.phases[0].metric_statuses["checkout-latency"].value == "regression_dismissed", "dismissed stays dismissed")

    # An existing rule, in a single-phase release; a pending release stopped.
    prod_flag = flags.get_feature_flag(PROJECT, FLAG, env="production")
    rule_id = prod_flag.environments["production"].rules[0].id
    release = accepted("start_environment_release", start("production", {"randomizationUnit": "user", "phases": [{"ruleId": rule_id, "steps": [{"allocation": 1000, "durationMillis": 1000}]}]})(), 201, EnvironmentRelease)
    check(release.phases[0].rule_id == rule_id, "released on the existing rule")
    accepted("stop_environment_release", stop("production", release.id, "roll_back_current_phase_and_remove_pending_phases")(), 200, EnvironmentRelease)

    # The other refusals.
    layout = flags.get_feature_flag(PROJECT, "checkout-layout")
    check(layout.kind == "multivariate" and layout.environments["production"].on is False, "checkout-layout is off in production")
    refused("flag off in the environment", 409, "conflict", lambda: releases.start_environment_release(BETA, PROJECT, "checkout-layout", "production", StartEnvironmentReleaseRequest.from_dict({"originalVariationId": layout.variations[0].id, "targetVariationId": layout.variations[1].id, "randomizationUnit": "user", "phases": [{"clauses": [kind], "steps": [{"allocation": 1000, "durationMillis": 1000}]}]})))
    refused("a release plan", 422, "unprocessable_entity", start("production", {"releasePlanKey": "standard"}))
    control("setApprovalsRequired", PROJECT, "production", True)
    refused("approvals required", 405, "method_not_allowed", start("production", guarded))
    control("setApprovalsRequired", PROJECT, "production", False)
    control("advance", 91 * 24 * 3600 * 1000)
    refused("a release that ended over 90 days ago", 404, "not_found", lambda: releases.get_environment_release(BETA, PROJECT, FLAG, "production", reverted.id))
    refused("stopping it", 404, "not_found", lambda: releases.stop_environment_release(BETA, PROJECT, FLAG, "production", reverted.id, StopEnvironmentReleaseRequest(resolution="roll_forward_all_phases")))

    # Release policies: list, get, create, update, order, delete.
    listed = accepted("get_release_policies", policies.get_release_policies_with_http_info(BETA, PROJECT), 200, ReleasePoliciesResponse)
    check(listed.total_count == len(listed.items) >= 2, "sample policies")
    scoped = accepted("get_release_policies", policies.get_release_policies_with_http_info(BETA, PROJECT, exclude_default=True), 200, ReleasePoliciesResponse)
    check(all(p.scope is not None for p in scoped.items), "excludeDefault")
    one = accepted("get_release_policy", policies.get_release_policy_with_http_info(BETA, PROJECT, "production-guarded"), 200, ReleasePolicy)
    check(one.release_method.value == "guarded-release", "guarded policy")
    created = accepted(
        "post_release_policy",
        policies.post_release_policy_with_http_info(
            BETA,
            PROJECT,
            PostReleasePolicyRequest.from_dict({"key": "staging-progressive", "name": "Progressive in staging", "releaseMethod": "progressive-release", "scope": {"environmentKeys": ["staging"], "flagTagKeys": ["checkout"]}, "progressiveReleaseConfig": {"rolloutContextKindKey": "user", "stages": [{"allocation": 10000, "durationMillis": 60000}]}}),
        ),
        201,
        ReleasePolicy,
    )
    check(created.key == "staging-progressive" and created.rank == 2, f"created with rank {created.rank}")
    refused("a policy key in use", 409, "conflict", lambda: policies.post_release_policy(BETA, PROJECT, PostReleasePolicyRequest.from_dict({"key": "staging-progressive", "name": "again", "releaseMethod": "immediate-release"})))
    updated = accepted(
        "put_release_policy",
        policies.put_release_policy_with_http_info(BETA, PROJECT, "staging-progressive", PutReleasePolicyRequest.from_dict({"name": "Guarded in staging", "releaseMethod": "guarded-release", "scope": {"environmentKeys": ["staging"]}, "guardedReleaseConfig": {"metricKeys": ["checkout-errors"], "rollbackOnRegression": True, "minSampleSize": 50}})),
        200,
        ReleasePolicy,
    )
    check(updated.name == "Guarded in staging" and updated.guarded_release_config.rollback_on_regression is True, "updated")
    refused("an order without every scoped policy", 400, "invalid_request", lambda: policies.post_release_policies_order(BETA, PROJECT, ["staging-progressive"]))
    ordered = accepted("post_release_policies_order", policies.post_release_policies_order_with_http_info(BETA, PROJECT, ["staging-progressive", "production-guarded"]), 200, ReleasePolicy)
    check([(p.key, p.rank) for p in ordered] == [("staging-progressive", 1), ("production-guarded", 2)], f"order {[(p.key, p.rank) for p in ordered]}")
    accepted("delete_release_policy", policies.delete_release_policy_with_http_info(BETA, PROJECT, "staging-progressive"), 204, None)
    refused("a deleted policy", 404, "not_found", lambda: policies.get_release_policy(BETA, PROJECT, "staging-progressive"))

    wanted = {"list_environment_releases", "get_environment_release", "start_environment_release", "stop_environment_release", "get_release_policies", "get_release_policy", "post_release_policy", "put_release_policy", "post_release_policies_order", "delete_release_policy"}
    missing = wanted - set(CALLS)
    check(not missing, f"calls not made: {missing}")
    sys.stdout.write("RESULT " + json.dumps({"calls": CALLS}) + "\n")


if __name__ == "__main__":
    main()
