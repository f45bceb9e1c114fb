#!/usr/bin/env python3
"""Reads a JUnit XML file with PyPI's junitparser, as CI systems' JUnit readers do, and prints
what it understood as JSON for tests/reports.rs: each suite's declared counts, and each test
case with its outcome (failure, error, skipped) and text.

Usage: junit_summary.py REPORT.xml   (run by target/junitparser/bin/python; scripts/test sets
that venv up)
"""

import json
import sys

from junitparser import Error, Failure, JUnitXml, Skipped


def outcome(case):
    for result in case.result:
        kind = {Failure: "failure", Error: "error", Skipped: "skipped"}.get(type(result))
        if kind:
            return {
                "kind": kind,
                "type": result.type,
                "message": result.message,
                "text": result.text,
            }
    return None


def main(path):
    xml = JUnitXml.fromfile(path)
    suites = []
    for suite in xml:
        cases = [
            {
                "classname": case.classname,
                "name": case.name,
                "outcome": outcome(case),
                "system_out": case.system_out,
            }
            for case in suite
        ]
        suites.append(
            {
                "name": suite.name,
                "tests": suite.tests,
                "failures": suite.failures,
                "errors": suite.errors,
                "skipped": suite.skipped,
                "properties": {p.name: p.value for p in suite.properties()},
                "cases": cases,
            }
        )
    json.dump(
        {
            "tests": xml.tests,
            "failures": xml.failures,
            "errors": xml.errors,
            "skipped": xml.skipped,
            "suites": suites,
        },
        sys.stdout,
        indent=1,
    )


if __name__ == "__main__":
    main(sys.argv[1])
