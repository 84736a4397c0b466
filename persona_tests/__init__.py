"""Persona tests: the cases of ``personas/<slug>.tests.yaml`` run against the working
tree's personas (and, with a baseline, another commit's) through the sandbox run path.

``runner.run_tests`` runs them and returns a ``report.TestReport``; the renderers turn
it into text, JSON, JUnit XML or the pull-request markdown.  Nothing is persisted.
"""
