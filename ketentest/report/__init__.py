"""Reporting: Allure labels and evidence through pytest-bdd's hooks, the
per-test results file and the stuurgroep report.

- ``evidence``: the one evidence API (``attach``, ``warn``, ``adapter``).
- ``plugin``: the pytest plugin that wires it to pytest and pytest-bdd.
- ``results``, ``matrix``, ``html``: results file, readiness matrix, HTML.
- ``allure_files``: environment.properties, categories.json, executor.json
  and the Allure 3 single-file report.

See docs/rapportage.md.
"""
