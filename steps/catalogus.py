"""A step no definition matches fails with one Dutch message naming the
closest existing sentences (ketentest/stappen.py), not pytest-bdd's English
StepDefinitionNotFoundError with a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_bdd.exceptions import StepDefinitionNotFoundError

from ketentest.stappen import not_found_message, project_steps


def _where(feature, scenario, step) -> str:
    path = Path(feature.filename)
    try:
        path = path.relative_to(Path.cwd())
    except ValueError:
        pass
    return f"{path}, regel {step.line_number}, scenario \"{scenario.name}\""


@pytest.hookimpl(trylast=True)  # after other plugins (Allure) saw pytest-bdd's own exception
def pytest_bdd_step_func_lookup_error(request, feature, scenario, step, exception) -> None:
    message = not_found_message(step.keyword, step.type, step.name, _where(feature, scenario, step), project_steps())
    exception.args = (message,)  # pytest-bdd raises this very exception after the hook
    exception.ketentest_melding = message


@pytest.hookimpl(wrapper=True, trylast=True)  # innermost: the report plugin reads the longrepr we set
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, StepDefinitionNotFoundError) and getattr(exc, "ketentest_melding", None):
        report.longrepr = exc.ketentest_melding
    return report
