"""template.yaml is valid CloudFormation and SAM, and its wiring keeps the promises the code relies on."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sluice_local.template import ROOT, Template, load_template


def test_cfn_lint_passes_with_the_serverless_rules() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    run = subprocess.run([str(cfn_lint), str(ROOT / "template.yaml"), "-a", "cfn_lint_serverless.rules"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_sam_translates_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for resource in load_template()["Resources"].values():
        for name in ("CodeUri", "ContentUri"):
            if isinstance(resource.get("Properties", {}).get(name), str):
                assert (ROOT / resource["Properties"][name]).is_dir(), resource["Properties"][name]
    output = {"Resources": _translated()}
    kinds = {r["Type"] for r in output["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::ApiGatewayV2::Api", "AWS::Lambda::EventSourceMapping",
            "AWS::Lambda::LayerVersion"} <= kinds
    paths = output["Resources"]["HttpApi"]["Properties"]["Body"]["paths"]
    assert paths["/v1/{proxy+}"]["x-amazon-apigateway-any-method"]["security"] == [{"ApiKeyAuthorizer": []}]
    assert "security" not in paths["/v1/health"]["get"] or paths["/v1/health"]["get"]["security"] == [{"NONE": []}]


def _translated() -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    class Policies:
        def load(self) -> dict:
            return {}

    doc = copy.deepcopy(load_template())
    for resource in doc["Resources"].values():
        props = resource.get("Properties", {})
        for name in ("CodeUri", "ContentUri"):
            if isinstance(props.get(name), str):
                props[name] = f"s3://placeholder/{props[name]}"
    return dict(transform(doc, {}, Policies())["Resources"])


def _references(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                if isinstance(value, list):
                    _references(value[1], found)
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)


def test_the_deployed_resources_have_no_circular_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    """CloudFormation refuses a cycle at deploy time, and cfn-lint misses those SAM creates (a bucket naming the
    API whose routes need the functions whose policies name the bucket)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    resources = _translated()
    graph: dict[str, set[str]] = {}
    for name, resource in resources.items():
        found: set[str] = set()
        _references(resource.get("Properties", {}), found)
        depends = resource.get("DependsOn", [])
        found.update([depends] if isinstance(depends, str) else depends)
        graph[name] = {f for f in found if f in resources and f != name}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_every_queue_with_a_consumer_has_a_dead_letter_queue() -> None:
    template = Template()
    queues = template.of_type("AWS::SQS::Queue")
    for source in template.sqs_sources():
        redrive = queues[source.queue]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in queues
        assert int(redrive["maxReceiveCount"]) >= 3
        function_timeout = template.functions()[source.function].timeout
        assert int(queues[source.queue]["Properties"]["VisibilityTimeout"]) >= function_timeout


def test_functions_have_handlers_on_disk() -> None:
    for spec in Template().functions().values():
        module, _ = spec.handler.split(".")
        assert (Path(spec.code_uri) / f"{module}.py").is_file()


def test_every_function_has_a_log_group_with_retention_and_alarms() -> None:
    template = Template()
    groups = template.of_type("AWS::Logs::LogGroup")
    alarms = template.of_type("AWS::CloudWatch::Alarm")
    for name in template.functions():
        group = groups[f"{name}LogGroup"]["Properties"]
        assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{name}}}"}
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        for metric in ("Errors", "Throttles"):
            alarm = alarms[f"{name}{metric}Alarm"]["Properties"]
            assert alarm["MetricName"] == metric and alarm["Dimensions"][0]["Value"] == {"Ref": name}


def test_every_dead_letter_queue_has_a_depth_alarm_and_every_queue_an_age_alarm() -> None:
    template = Template()
    queues = template.of_type("AWS::SQS::Queue")
    alarms = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: a["Properties"]["MetricName"]
              for a in template.of_type("AWS::CloudWatch::Alarm").values()
              if a["Properties"]["Namespace"] == "AWS/SQS"}
    for name, queue in queues.items():
        if "RedrivePolicy" in queue.get("Properties", {}):
            dead_letter = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert alarms[dead_letter] == "ApproximateNumberOfMessagesVisible"
            assert alarms[name] == "ApproximateAgeOfOldestMessage"
        assert queue.get("Properties", {}).get("SqsManagedSseEnabled") is True, name


def test_storage_is_encrypted_private_and_tls_only() -> None:
    template = Template()
    bucket = template.resources["DataBucket"]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    statement = template.resources["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for table in template.of_type("AWS::DynamoDB::Table").values():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}


def test_no_wildcard_resources_in_function_policies() -> None:
    template = Template()
    own_policies = set(template.of_type("AWS::IAM::ManagedPolicy"))
    for name, resource in template.of_type("AWS::Serverless::Function").items():
        for policy in resource["Properties"].get("Policies", []):
            assert isinstance(policy, dict) and len(policy) == 1, (name, policy)  # SAM policy templates only
            if "Ref" in policy:  # or a managed policy of this template's, for what no SAM template grants
                assert policy["Ref"] in own_policies, (name, policy)
                continue
            (_, arguments), = policy.items()
            assert all(value not in ("*", {"Ref": "AWS::NoValue"}) for value in arguments.values()), (name, policy)


def test_access_logs_carry_no_credential() -> None:
    """Export links carry their credential in the path, and keys travel in headers: the access log records
    the route template and the tenant, never the path, a header or the query string."""
    api = Template().of_type("AWS::Serverless::HttpApi")["HttpApi"]
    log_format = api["Properties"]["AccessLogSettings"]["Format"]
    fields = json.loads(log_format)
    assert fields["route"] == "$context.routeKey"
    for leaky in ("$context.path", "$request.header", "$request.querystring", "$context.authorizer.keyId",
                  "$input"):
        assert leaky not in log_format


def test_the_openapi_document_lists_every_route_the_api_serves() -> None:
    import importlib.util

    from sluice.api import openapi

    spec = importlib.util.spec_from_file_location("api_app", Path("functions/api/app.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    served = set()
    for route in module.app._static_routes + module.app._dynamic_routes:
        if route.path.startswith("/console"):
            continue  # the console's files: pages, not operations of the API
        path = re.sub(r"<(\w+)>", lambda m: "{" + _OPENAPI_NAMES.get(m.group(1), m.group(1)) + "}", route.path)
        served.add((route.method.lower(), path))
    documented = {(method, path) for path, item in openapi.document()["paths"].items()
                  for method in item if method != "parameters"}
    assert served == documented
    public = {(m, p) for p, item in openapi.document()["paths"].items() for m, op in item.items()
              if m != "parameters" and op.get("security") == []}
    events = Template().resources["ApiFunction"]["Properties"]["Events"]
    unauthenticated = {(e["Properties"]["Method"].lower(), e["Properties"]["Path"]) for e in events.values()
                       if e["Properties"].get("Auth", {}).get("Authorizer") == "NONE"}
    console = {("get", "/console"), ("get", "/console/"), ("get", "/console/{proxy+}")}
    assert public | console == unauthenticated


_OPENAPI_NAMES = {"item_type": "itemType", "job_id": "jobId", "export_id": "exportId", "key_id": "keyId",
                  "track_id": "trackId"}
_OPENAPI_NAMES.update({"webhook_id": "webhookId", "delivery_id": "deliveryId"})


def test_the_authorizer_does_not_cache_so_revocation_is_immediate() -> None:
    api = Template().of_type("AWS::Serverless::HttpApi")["HttpApi"]
    authorizer = api["Properties"]["Auth"]["Authorizers"]["ApiKeyAuthorizer"]
    assert authorizer["Identity"]["ReauthorizeEvery"] == 0
