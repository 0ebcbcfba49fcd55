"""deploy/helm/values.yaml against the transcribed parts of the official Airflow Helm chart's values.schema.json
(tests/data/airflow-chart-values.schema.subset.json says which revision): a misspelt or renamed key fails here
instead of being ignored by ``helm install``. No helm and no cluster needed."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

VALUES = ROOT / "deploy" / "helm" / "values.yaml"
SCHEMA = ROOT / "tests" / "data" / "airflow-chart-values.schema.subset.json"


def _values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_helm_values_file_matches_the_charts_schema():
    errors = sorted(_validator().iter_errors(_values()), key=str)
    assert errors == [], "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        pytest.param(lambda v: v["ingress"].update(web=v["ingress"].pop("apiServer")), ["ingress"], id="airflow-2-web"),
        pytest.param(lambda v: v["images"]["airflow"].update(pullpolicy="Always"), ["images", "airflow"], id="case"),
        pytest.param(lambda v: v.update(executor="Kubernetes"), ["executor"], id="executor-name"),
        pytest.param(lambda v: v["env"].append({"name": "X", "valueFrom": {}}), ["env", 2], id="env-shape"),
        pytest.param(lambda v: v["secret"][0].pop("secretName"), ["secret", 0], id="secret-missing-name"),
        pytest.param(lambda v: v["data"].update(metadataSecret="x"), ["data"], id="data-key"),
        pytest.param(lambda v: v.update(webserver={"enabled": False}), [], id="unverified-top-level-key"),
    ],
)
def test_a_wrong_key_is_caught(change, path):
    """The schema copy is strict enough to catch the mistakes helm would silently ignore or refuse."""
    values = copy.deepcopy(_values())
    change(values)
    errors = list(_validator().iter_errors(values))
    assert errors, "the changed values still validate"
    assert any(list(e.absolute_path)[: len(path)] == path for e in errors), [str(e) for e in errors]


def test_the_docs_show_the_values_file_as_it_is():
    """docs/deployment.md's Helm section prints deploy/helm/values.yaml verbatim (between markers)."""
    docs = (ROOT / "docs" / "deployment.md").read_text()
    found = re.search(r"<!-- helm-values:start -->\s*```yaml\n(.*?)```\s*<!-- helm-values:end -->", docs, re.S)
    assert found, "docs/deployment.md lost its helm-values block"
    assert yaml.safe_load(found.group(1)) == _values()
