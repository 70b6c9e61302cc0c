"""JUnit XML view of a Report: one test case per candidate, written with the standard library."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from parity.report import CandidateReport, Report, write_text


def _details(candidate: CandidateReport, limit: int = 20) -> str:
    lines = [candidate.verdict.reason, ""]
    for outcome in candidate.disagreements[:limit]:
        ref = f"{outcome.reference.top1}" if outcome.reference else f"failed ({outcome.reference_error})"
        cand = f"{outcome.candidate.top1}" if outcome.candidate else f"failed ({outcome.candidate_error})"
        lines.append(f"{outcome.image}: reference {ref}, candidate {cand}")
    if len(candidate.disagreements) > limit:
        lines.append(f"... and {len(candidate.disagreements) - limit} more")
    return "\n".join(lines)


def dumps(report: Report) -> str:
    """The report as JUnit XML text."""
    failures = sum(not c.verdict.passed for c in report.candidates) + report.interrupted
    tests = len(report.candidates) + report.interrupted
    root = ET.Element("testsuites", name="parity", tests=str(tests), failures=str(failures))
    suite = ET.SubElement(
        root, "testsuite", name=f"parity {report.model.get('path', '')}", tests=str(tests),
        failures=str(failures), errors="0", timestamp=report.created, time=str(report.timings.get("total_s", 0)),
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (("model.sha256", report.model.get("sha256", "")), ("data", report.data["source"]),
                        ("images", report.data["images"]), ("reference", report.reference.get("name", ""))):
        ET.SubElement(properties, "property", name=name, value=str(value))
    for candidate in report.candidates:
        case = ET.SubElement(suite, "testcase", classname=f"parity.{report.reference.get('name', 'reference')}", name=candidate.stack["name"])
        if not candidate.verdict.passed:
            failure = ET.SubElement(case, "failure", message=candidate.verdict.reason, type="parity.flips")
            failure.text = _details(candidate)
        else:
            ET.SubElement(case, "system-out").text = candidate.verdict.reason
    if report.interruption:  # a partial run must not look green
        case = ET.SubElement(suite, "testcase", classname="parity.run", name="complete run")
        ET.SubElement(case, "failure", message=report.interruption, type="parity.interrupted")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(report: Report, path: Path) -> None:
    """Write the JUnit report to ``path``."""
    write_text(path, dumps(report), "JUnit")
