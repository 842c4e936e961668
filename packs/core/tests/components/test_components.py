"""Every component file of the core pack, parsed with PyYAML and checked against the others.

Run by the "Component Definitions" suite (runner: pytest). PyYAML comes from the pack's
requirements.txt, installed into the pack's own Python environment; pytest from the runner.
The folder has no __init__.py, so the unittest suite one level up does not pick these tests up.
"""

import ast
import importlib.util
import os
import re
from pathlib import Path

import pytest
import yaml

PACK_ROOT = Path(__file__).resolve().parents[2]
KINDS = ("actions", "triggers", "sensors", "rules", "workflows")
TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
JSON_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
              "object": dict, "array": list}


def files(*kinds):
    return sorted(path for kind in kinds for path in (PACK_ROOT / kind).glob("*.y*ml"))


def load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def by_ref(kind):
    return {definition["ref"]: definition for definition in map(load, files(kind))}


def file_id(path):
    return f"{path.parent.name}/{path.name}"


def schema_problems(value, schema):
    """Problems of value against the small JSON Schema subset these files use."""
    expected = schema.get("type")
    if expected:
        if isinstance(value, bool) and expected in ("integer", "number"):
            return [f"{value!r} is not of type {expected}"]
        if not isinstance(value, JSON_TYPES[expected]):
            return [f"{value!r} is not of type {expected}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{value!r} is not one of {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{value!r} is below {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{value!r} is above {schema['maximum']}")
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for item in value.values():
            problems += schema_problems(item, schema["additionalProperties"])
    return problems


def is_template(value):
    return isinstance(value, str) and bool(TEMPLATE.search(value))


def check_arguments(arguments, schema, where):
    """Arguments given to a component: declared, required ones present, literals valid."""
    properties = schema.get("properties", {})
    assert set(arguments) <= set(properties), f"{where}: undeclared {set(arguments) - set(properties)}"
    missing = set(schema.get("required", [])) - set(arguments)
    assert not missing, f"{where}: required {missing} not given"
    for name, value in arguments.items():
        if not is_template(value):
            assert schema_problems(value, properties[name]) == [], f"{where}.{name}"


def script_constant(path, name):
    """A module-level constant of a script, read without running the script."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} defines no {name}")


# --- every component file -------------------------------------------------------------

@pytest.mark.parametrize("path", files(*KINDS), ids=file_id)
def test_component_identity(path):
    definition = load(path)
    assert isinstance(definition, dict)
    assert path.suffix == ".yaml"
    assert definition["ref"] == f"core.{path.stem}"
    assert definition["name"] == path.stem
    for key in ("label", "description"):
        assert isinstance(definition[key], str) and definition[key].strip(), key
    assert isinstance(definition["enabled"], bool)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_definitions_with_unique_refs(kind):
    refs = [load(path)["ref"] for path in files(kind)]
    assert refs, f"no {kind}"
    assert len(refs) == len(set(refs))


@pytest.mark.parametrize("path", files("actions", "triggers", "sensors"), ids=file_id)
def test_parameter_schema_is_consistent(path):
    schema = load(path)["parameters"]
    assert schema["type"] == "object"
    properties = schema["properties"]
    assert set(schema.get("required", [])) <= set(properties)
    for name, spec in properties.items():
        assert spec["type"] in JSON_TYPES, name
        assert spec.get("description"), f"{name} has no description"
        if "default" in spec:
            assert schema_problems(spec["default"], spec) == [], name


@pytest.mark.parametrize("path", files("actions", "sensors"), ids=file_id)
def test_entry_point_is_an_executable_file_next_to_the_definition(path):
    entry_point = load(path)["entry_point"]
    script = path.parent / entry_point
    assert "/" not in entry_point
    assert script.is_file()
    assert os.access(script, os.X_OK)


@pytest.mark.parametrize("path", files("triggers"), ids=file_id)
def test_trigger_output_schema(path):
    trigger = load(path)
    output = trigger["output"]
    assert output["type"] == "object"
    assert set(output["required"]) <= set(output["properties"])
    assert output["properties"]["type"]["const"] == trigger["type"]
    assert "fired_at" in output["required"]


# --- actions --------------------------------------------------------------------------

def test_http_request_schema_matches_the_script():
    script = PACK_ROOT / "actions" / "http_request.py"
    spec = importlib.util.spec_from_file_location("core_http_request", script)
    action = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(action)
    properties = load(PACK_ROOT / "actions" / "http_request.yaml")["parameters"]["properties"]
    assert tuple(properties["method"]["enum"]) == action.METHODS
    assert properties["method"]["default"] == action.DEFAULT_METHOD
    timeout = properties["timeout"]
    assert (timeout["minimum"], timeout["maximum"], timeout["default"]) == (
        action.MIN_TIMEOUT, action.MAX_TIMEOUT, action.DEFAULT_TIMEOUT)
    status = properties["expected_status"]
    assert (status["minimum"], status["maximum"]) == (action.MIN_STATUS, action.MAX_STATUS)
    assert properties["headers"]["additionalProperties"] == {"type": "string"}


def test_http_request_output_schema_lists_the_printed_fields():
    output = load(PACK_ROOT / "actions" / "http_request.yaml")["output_schema"]
    assert set(output["required"]) == set(output["properties"]) == {
        "status", "headers", "body", "elapsed_ms"}


# --- the sensor -----------------------------------------------------------------------

SENSOR_FILE = PACK_ROOT / "sensors" / "interval_timer_sensor.yaml"


def test_sensor_is_a_standalone_process_for_defined_triggers():
    sensor = load(SENSOR_FILE)
    assert sensor["runner_type"] == "standalone"
    assert sensor["trigger_types"] == ["core.intervaltimer"]
    assert set(sensor["trigger_types"]) <= set(by_ref("triggers"))


def test_sensor_poll_interval_matches_the_script():
    sensor = load(SENSOR_FILE)
    script = SENSOR_FILE.parent / sensor["entry_point"]
    assert isinstance(sensor["poll_interval"], int) and sensor["poll_interval"] >= 1
    assert script_constant(script, "POLL_INTERVAL") == sensor["poll_interval"]
    assert script_constant(script, "TRIGGER") == sensor["trigger_types"][0]


def test_sensor_parameters_mirror_the_trigger():
    sensor = load(SENSOR_FILE)["parameters"]["properties"]
    trigger = by_ref("triggers")["core.intervaltimer"]["parameters"]["properties"]
    assert sensor["unit"]["enum"] == trigger["unit"]["enum"]
    assert sensor["unit"]["default"] == trigger["unit"]["default"]
    assert sensor["delta"]["type"] == trigger["delta"]["type"] == "integer"
    assert sensor["delta"]["minimum"] == trigger["delta"]["minimum"]
    script = SENSOR_FILE.parent / load(SENSOR_FILE)["entry_point"]
    assert list(script_constant(script, "UNITS")) == trigger["unit"]["enum"]


def test_sensor_reads_exactly_its_declared_parameters():
    sensor = load(SENSOR_FILE)
    source = (SENSOR_FILE.parent / sensor["entry_point"]).read_text(encoding="utf-8")
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    declared = {name.upper() for name in sensor["parameters"]["properties"]}
    assert set(re.findall(r"ATTUNE_SENSOR_([A-Z0-9_]+)", code)) == declared


# --- the rule -------------------------------------------------------------------------

RULE_FILE = PACK_ROOT / "rules" / "log_every_minute.yaml"


def test_rule_connects_a_defined_trigger_to_a_defined_action():
    rule = load(RULE_FILE)
    assert rule["trigger_ref"] == "core.intervaltimer"
    assert rule["action_ref"] == "core.echo"
    assert rule["trigger_ref"] in by_ref("triggers")
    assert rule["action_ref"] in by_ref("actions")
    assert rule["criteria"] == {}


def test_rule_trigger_params_fire_every_minute():
    rule = load(RULE_FILE)
    trigger = by_ref("triggers")[rule["trigger_ref"]]
    check_arguments(rule["trigger_params"], trigger["parameters"], "trigger_params")
    assert rule["trigger_params"] == {"unit": "minutes", "delta": 1}


def test_rule_action_params_are_declared_by_the_action():
    rule = load(RULE_FILE)
    action = by_ref("actions")[rule["action_ref"]]
    assert rule["action_params"], "the rule passes no parameters"
    check_arguments(rule["action_params"], action["parameters"], "action_params")


def test_rule_templates_use_fields_of_the_trigger_payload():
    rule = load(RULE_FILE)
    payload = by_ref("triggers")[rule["trigger_ref"]]["output"]["properties"]
    expressions = [expression for value in rule["action_params"].values() if isinstance(value, str)
                   for expression in TEMPLATE.findall(value)]
    assert expressions
    for expression in expressions:
        match = re.fullmatch(r"event\.payload\.(\w+)", expression)
        assert match, f"unexpected template {expression!r}"
        assert match.group(1) in payload


# --- the workflow ---------------------------------------------------------------------

WORKFLOW_FILE = PACK_ROOT / "workflows" / "echo_then_sleep.yaml"
TRANSITIONS = ("on_success", "on_failure")


def workflow_tasks():
    return {task["name"]: task for task in load(WORKFLOW_FILE)["tasks"]}


def test_workflow_input_schema():
    schema = load(WORKFLOW_FILE)["input"]
    assert schema["type"] == "object"
    assert set(schema["required"]) <= set(schema["properties"])
    for name, spec in schema["properties"].items():
        if "default" in spec:
            assert schema_problems(spec["default"], spec) == [], name


def test_workflow_tasks_call_defined_actions_with_declared_parameters():
    actions = by_ref("actions")
    tasks = load(WORKFLOW_FILE)["tasks"]
    assert len({task["name"] for task in tasks}) == len(tasks), "duplicate task names"
    used = set()
    for task in tasks:
        assert task["action"] in actions, task["name"]
        check_arguments(task.get("input", {}), actions[task["action"]]["parameters"], task["name"])
        used.add(task["action"])
    assert {"core.echo", "core.sleep"} <= used


def test_workflow_transitions_point_to_tasks():
    workflow = load(WORKFLOW_FILE)
    tasks = workflow_tasks()
    assert workflow["start"] in tasks
    for task in tasks.values():
        assert set(task) <= {"name", "action", "input", "fail", *TRANSITIONS}, task["name"]
        for key in TRANSITIONS:
            assert set(task.get(key, [])) <= set(tasks), f"{task['name']}.{key}"


def test_workflow_graph_is_acyclic_and_every_task_is_reachable():
    workflow = load(WORKFLOW_FILE)
    tasks = workflow_tasks()
    order, state = [], {}

    def visit(name):
        assert state.get(name) != "open", f"cycle through {name}"
        if name in state:
            return
        state[name] = "open"
        for key in TRANSITIONS:
            for following in tasks[name].get(key, []):
                visit(following)
        state[name] = "done"
        order.append(name)

    visit(workflow["start"])
    assert set(order) == set(tasks), f"unreachable: {set(tasks) - set(order)}"
    assert order[-1] == workflow["start"]


def test_workflow_happy_path_is_echo_then_sleep():
    workflow = load(WORKFLOW_FILE)
    tasks = workflow_tasks()
    path, name = [], workflow["start"]
    while name:
        path.append(tasks[name]["action"])
        following = tasks[name].get("on_success", [])
        name = following[0] if following else None
    assert path[:2] == ["core.echo", "core.sleep"]


def test_workflow_templates_use_declared_input():
    workflow = load(WORKFLOW_FILE)
    declared = set(workflow["input"]["properties"])
    names = set()
    for task in workflow["tasks"]:
        for value in task.get("input", {}).values():
            for expression in TEMPLATE.findall(str(value)):
                match = re.fullmatch(r"input\.(\w+)", expression)
                assert match, f"unexpected template {expression!r} in {task['name']}"
                names.add(match.group(1))
    assert names == declared, "every input is used, and only declared ones"
