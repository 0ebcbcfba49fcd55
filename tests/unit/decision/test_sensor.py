"""The sensor's inputs: a request id, or the registering task's whole output resolved from XCom at run time."""

from __future__ import annotations

import pytest

from include.decision.sensor import WaitForDecisionSensor


def test_the_sensor_takes_the_request_id_from_the_registering_tasks_whole_output():
    """The DAG passes validate_request's output whole (one XCom per run instead of one per key); once rendered,
    every step (the store's lookups, the trigger's kwargs) uses its request_id."""
    output = {"request_id": "req-1", "lookback": "12_months", "timezone": "America/Los_Angeles"}
    sensor = WaitForDecisionSensor(task_id="wait_for_decision", request=output)
    assert sensor.request_id == ""  # not known before rendering: in a DAG, ``request`` is an XCom reference
    sensor.render_template_fields(context={})
    assert sensor.request_id == "req-1"
    assert sensor.request == output


def test_a_request_id_given_directly_is_kept_through_rendering():
    sensor = WaitForDecisionSensor(task_id="wait_for_decision", request_id="req-2")
    sensor.render_template_fields(context={})
    assert (sensor.request_id, sensor.request) == ("req-2", None)


@pytest.mark.parametrize("kwargs", [{}, {"request_id": "req-3", "request": {"request_id": "req-3"}}])
def test_the_sensor_needs_exactly_one_of_request_id_and_request(kwargs):
    with pytest.raises(ValueError, match="request_id or request"):
        WaitForDecisionSensor(task_id="wait_for_decision", **kwargs)
