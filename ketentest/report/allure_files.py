"""What the Allure results folder needs besides the test results, and the
Allure 3 single-file HTML report.

- environment.properties: keten, versions, seed and every [aanname] value;
- categories.json: ketendefect (an assertion failed: an agreement is broken)
  versus infrastructuurprobleem (InfrastructureError) and harnasfout (any
  other error). Regexes work for Allure 2 (Java, whole-message match) and
  Allure 3 (JavaScript, search);
- executor.json: who made the results.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import ssl
import subprocess
from collections.abc import Mapping
from pathlib import Path

# Pinned: the report format and options below are checked against this version.
ALLURE_NPM = "allure@3.18.0"
MIN_NODE_MAJOR = 20


def versions() -> dict[str, str]:
    """Python, Unbound and OpenSSL versions, for reports ("niet gevonden" if absent)."""
    return {
        "Python": platform.python_version(),
        "Unbound": _program_version(["unbound", "-V"], r"Version\s+(\S+)"),
        "OpenSSL (Python)": ssl.OPENSSL_VERSION,
        "OpenSSL (programma)": _program_version(["openssl", "version"], r"(OpenSSL\s+\S+)"),
    }


def _program_version(argv: list[str], pattern: str) -> str:
    exe = shutil.which(argv[0]) or shutil.which(argv[0], path="/usr/sbin:/sbin")
    if exe is None:
        return "niet gevonden"
    try:
        out = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "onbekend"
    m = re.search(pattern, out.stdout + out.stderr)
    return m.group(1) if m else "onbekend"


def _escape_properties(text: str, key: bool) -> str:
    """Java .properties escaping (ISO-8859-1 file, \\uXXXX beyond ASCII)."""
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch in "=:#!" or (ch == " " and (key or i == 0)):
            out.append("\\" + ch)
        elif ord(ch) > 126 or ord(ch) < 32:
            out.extend(f"\\u{b:04x}" for b in _utf16(ch))
        else:
            out.append(ch)
    return "".join(out)


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def properties_text(values: Mapping[str, str]) -> str:
    return "".join(f"{_escape_properties(k, True)}={_escape_properties(str(v), False)}\n" for k, v in values.items())


CATEGORIES = [
    {
        "name": "Ketendefect: afspraak niet gehaald",
        "description": "Een controle faalde: de keten voldoet niet aan een afspraak.",
        "matchedStatuses": ["failed"],
    },
    {
        "name": "Infrastructuurprobleem (testomgeving)",
        "description": "De gesimuleerde keten kon niet draaien (adres in gebruik, programma ontbreekt, "
                       "simulator kwam niet op): geen oordeel over de keten.",
        "matchedStatuses": ["broken"],
        "messageRegex": r"[\s\S]*InfrastructureError[\s\S]*",
    },
    {
        "name": "Harnasfout (testomgeving)",
        "description": "Een andere fout in de testharnas (ontbrekende stap, programmeerfout): "
                       "geen oordeel over de keten.",
        "matchedStatuses": ["broken"],
    },
]


def write_results_extras(results_dir: Path, environment: Mapping[str, str], executor: Mapping[str, object]) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "environment.properties").write_text(properties_text(environment), encoding="latin-1")
    (results_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
    (results_dir / "executor.json").write_text(json.dumps(dict(executor), indent=2, ensure_ascii=False) + "\n",
                                               encoding="utf-8")


# --- Allure 3 HTML --------------------------------------------------------------------

def node_status() -> tuple[bool, str]:
    """Whether Node.js (>= 20) with npx is usable, and a Dutch reason if not."""
    node, npx = shutil.which("node"), shutil.which("npx")
    if node is None or npx is None:
        return False, "Node.js (node en npx) is niet geïnstalleerd"
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        major = int(out.lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        return False, "de versie van Node.js is onbekend"
    if major < MIN_NODE_MAJOR:
        return False, f"Node.js {out} is te oud (Allure 3 vraagt {MIN_NODE_MAJOR} of nieuwer)"
    return True, f"Node.js {out}"


def generate_allure_html(root: Path, results_dir: Path, timeout: float = 600) -> tuple[bool, str]:
    """Run Allure 3 (npx) with root/allurerc.json: one Dutch HTML file in
    reports/allure-rapport/index.html. Returns (made, Dutch message); never raises."""
    ok, why = node_status()
    if not ok:
        return False, (f"Allure-rapport overgeslagen: {why}. De Allure-resultaten staan in {results_dir}; "
                       "zie docs/rapportage.md.")
    if not any(results_dir.glob("*-result.json")):
        return False, f"Allure-rapport overgeslagen: geen resultaten in {results_dir}."
    argv = [shutil.which("npx") or "npx", "--yes", ALLURE_NPM, "generate", "--config", str(root / "allurerc.json"),
            str(results_dir)]
    try:
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"Allure-rapport mislukt: npx {ALLURE_NPM} duurde langer dan {timeout:.0f} s."
    except OSError as e:
        return False, f"Allure-rapport mislukt: {e}."
    report = root / json.loads((root / "allurerc.json").read_text(encoding="utf-8"))["output"] / "index.html"
    if done.returncode != 0 or not report.exists():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        return False, (f"Allure-rapport mislukt (npx {ALLURE_NPM}, code {done.returncode}); geen internet voor npm?"
                       f"\n{tail}")
    return True, f"Allure-rapport: {report}"
