"""`Learner`: the judge's view of the learner's graded functions and model files.

`judge_client.SandboxLearner` runs them in confined workers; `notebook.InProcessLearner` in the
learner's own kernel (check()); tests make their own. Every answer has the shape `protocol`
gives it, whichever side made it.
"""

from __future__ import annotations

import ast
from typing import Any

from autograder.isolation.protocol import ModelRequest, failure_from_exception
from autograder.submission import parse_cell


class Learner:
    """The learner's graded functions, called in the worker subprocess or in the notebook."""

    def save_model(self, function: str, path: str) -> dict[str, Any]:
        """Call function() and save the model it returns to path; describe what it returned."""
        raise NotImplementedError

    def call(self, function: str, arguments: list[dict[str, Any]]) -> dict[str, Any]:
        """Call function(*arguments) (specs from `argument_spec`); `protocol.returned_value`."""
        raise NotImplementedError

    def read_model(self, request: ModelRequest) -> dict[str, Any]:
        """modelfile.read_model_file's answer for a model file; LearnerFailure when it fails.
        Here, in this process (the notebook's own kernel, tests); judge_client.SandboxLearner
        reads in a confined worker of its own."""
        from autograder.isolation.modelfile import read_model_file

        try:
            return read_model_file(request)
        except Exception as error:
            raise failure_from_exception(error, "") from None

    def parameters(self, function: str) -> list[str]:
        """The names of the function's parameters, read from its cell's source (never run):
        the `cells` of judge_client.SandboxLearner; a learner without cells overrides this."""
        return parameters_in_source(self.source(function), function)

    def source(self, function: str) -> str:
        """The source of the function's graded cell, where the learner has one (the `cells` of
        judge_client.SandboxLearner), else ""."""
        cell = getattr(self, "cells", {}).get(function)
        source = getattr(cell, "source", "")
        return source if isinstance(source, str) else ""


def parameters_in_source(source: str, function: str) -> list[str]:
    tree = parse_cell(source)
    if tree is None:
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return [argument.arg for argument in node.args.args]
    return []
