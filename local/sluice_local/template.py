"""Reading template.yaml: CloudFormation tags, intrinsic functions, and the wiring the local stack needs.

The local stack and the tests build every table, queue, bucket, notification, poller and route from
this reading of the template, so the two cannot drift apart."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "123456789012"
REGION = "us-east-1"


class _Loader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _short in ("Ref", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
               "FindInMap", "ImportValue", "GetAZs", "Base64", "Condition"):
    _Loader.add_constructor(f"!{_short}", _tag("Ref" if _short == "Ref" else
                                                 "Condition" if _short == "Condition" else f"Fn::{_short}"))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as data (a fresh copy: callers may change it)."""
    return copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


@lru_cache(maxsize=4)
def _parsed(path: Path, _mtime_ns: int) -> dict[str, Any]:
    with path.open() as handle:
        return dict(yaml.load(handle, Loader=_Loader))


@dataclass
class SqsSource:
    function: str
    queue: str
    batch_size: int
    report_failures: bool


@dataclass
class ScheduleSource:
    function: str
    name: str
    expression: str
    enabled: bool
    input: str | None

    def interval_seconds(self) -> float | None:
        """rate(N unit) in seconds; cron expressions are not run locally (invoke them by hand)."""
        found = re.fullmatch(r"rate\((\d+) (second|minute|hour|day)s?\)", self.expression.strip())
        if not found:
            return None
        unit = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[found.group(2)]
        return int(found.group(1)) * unit


@dataclass
class Route:
    function: str
    method: str
    path: str
    authorized: bool
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        self.pattern = re.compile(f"^{regex}$")

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def greedy(self) -> bool:
        return "+}" in self.path


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    environment: dict[str, Any]


class Template:
    def __init__(self, doc: dict[str, Any] | None = None, parameters: dict[str, str] | None = None) -> None:
        self.doc = doc or load_template()
        self.resources: dict[str, dict[str, Any]] = self.doc["Resources"]
        declared = self.doc.get("Parameters", {})
        unknown = sorted(set(parameters or {}) - set(declared))
        if unknown:
            raise ValueError(f"unknown template parameter(s) {', '.join(unknown)}; the template declares: "
                             f"{', '.join(sorted(declared))}")
        self.parameters = {
            name: str((parameters or {}).get(name, spec.get("Default", "")))
            for name, spec in self.doc.get("Parameters", {}).items()
        }
        self.physical: dict[str, dict[str, str]] = {}  # logical id -> {"Ref": ..., "Arn": ..., ...}

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    # -- intrinsic functions ------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, arg), = value.items()
            if name == "Ref":
                return self._ref(arg)
            if name == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self._attribute(logical, attribute)
            if name == "Fn::Sub":
                return self._sub(arg)
            if name == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in parts)
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> Any:
        pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "sluice-local", "AWS::NoValue": None}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._attribute(name, "Ref")

    def _attribute(self, logical: str, attribute: str) -> str:
        if logical not in self.resources:
            raise KeyError(f"template refers to unknown resource {logical}")
        known = self.physical.get(logical, {})
        if attribute not in known:
            raise KeyError(f"{logical}.{attribute} is not known yet (create {logical} first)")
        return known[attribute]

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return str(self._attribute(logical, attribute))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    # -- wiring ---------------------------------------------------------------------------------

    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = self.doc.get("Globals", {}).get("Function", {})
        out = {}
        for logical, resource in self.of_type("AWS::Serverless::Function").items():
            props = resource["Properties"]
            env = dict(globals_.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            out[logical] = FunctionSpec(
                logical_id=logical,
                code_uri=ROOT / props["CodeUri"],
                handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                environment=env,
            )
        return out

    def sqs_sources(self) -> list[SqsSource]:
        sources = []
        for logical, resource in self.of_type("AWS::Serverless::Function").items():
            for event in resource["Properties"].get("Events", {}).values():
                if event["Type"] != "SQS":
                    continue
                props = event["Properties"]
                queue = props["Queue"]["Fn::GetAtt"][0]
                sources.append(SqsSource(logical, queue, int(props.get("BatchSize", 10)),
                                         "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])))
        return sources

    def schedules(self) -> list[ScheduleSource]:
        found = []
        for logical, resource in self.of_type("AWS::Serverless::Function").items():
            for name, event in resource["Properties"].get("Events", {}).items():
                if event["Type"] not in ("Schedule", "ScheduleV2"):
                    continue
                props = event["Properties"]
                expression = props.get("Schedule") or props.get("ScheduleExpression", "")
                enabled = props.get("Enabled", props.get("State", "ENABLED") == "ENABLED")
                found.append(ScheduleSource(logical, name, expression, bool(enabled), props.get("Input")))
        return found

    def routes(self) -> list[Route]:
        routes = []
        for logical, resource in self.of_type("AWS::Serverless::Function").items():
            for event in resource["Properties"].get("Events", {}).values():
                if event["Type"] != "HttpApi":
                    continue
                props = event["Properties"]
                authorizer = props.get("Auth", {}).get("Authorizer")
                routes.append(Route(logical, props.get("Method", "ANY").upper(), props["Path"],
                                    authorized=authorizer != "NONE"))
        return sorted(routes, key=lambda r: (r.greedy, -len(r.path)))

    def authorizer_function(self) -> str | None:
        for api in self.of_type("AWS::Serverless::HttpApi").values():
            auth = api["Properties"].get("Auth", {})
            default = auth.get("DefaultAuthorizer")
            if default:
                arn = auth["Authorizers"][default]["FunctionArn"]
                return str(arn["Fn::GetAtt"][0])
        return None
