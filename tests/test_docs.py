"""The documentation against the code it describes: the server table, and every link.

docs/servers.md's table is connmw.servers.SERVERS written out (one row per server, its
interfaces and its summary); every relative link in README.md and docs/ names a file that
exists, and every anchor a heading of that file; every pointer from the package, the tests
and the build files to a section (``docs/servers.md, "What servers do without connmw"``)
names a heading that exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connmw.servers import SERVERS

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))


def server_rows() -> dict[str, tuple[str, str]]:
    text = (ROOT / "docs" / "servers.md").read_text()
    table = text.split("<!-- servers-table", 1)[1].split("<!-- end servers-table -->", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_the_server_table_is_the_code_s_table() -> None:
    rows = server_rows()
    assert sorted(rows) == sorted(SERVERS)
    for name, profile in SERVERS.items():
        interfaces = ", ".join(sorted(interface.upper() for interface in profile.interfaces))
        assert rows[name] == (interfaces, profile.summary), name


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.name}: {target}"
        if anchor and file.suffix == ".md":
            headings = [line.lstrip("#") for line in file.read_text().splitlines() if line.startswith("#")]
            assert anchor in {_anchor(h) for h in headings}, f"{page.name}: {target}"


# Pointers from code, tests and build files to a section of the documentation, such as
# (docs/servers.md, "What servers do without connmw") or docs/policy.md#readiness: a
# renamed or removed heading must not leave them pointing nowhere.
POINTER = re.compile(r"\b(README|docs/[\w-]+\.md)(?:'s)?,\s+\"([^\"]+)\"")
ANCHOR = re.compile(r"\b(README\.md|docs/[\w-]+\.md)#([\w-]+)")
SOURCES = [
    *sorted((ROOT / "connmw").rglob("*.py")),
    *sorted(path for path in (ROOT / "tests").rglob("*.py") if path.name != "test_docs.py"),
    *sorted((ROOT / "example_apps").rglob("*.py")),
    ROOT / "pyproject.toml",
    ROOT / ".ci" / "run",
]


def _unwrapped(text: str) -> str:
    """The text with each line break, and a comment's ``#`` after it, read as one space."""
    return re.sub(r"\s*\n\s*(?:#\s*)?", " ", text)


def _headings(doc: str) -> list[str]:
    page = ROOT / ("README.md" if doc.startswith("README") else doc)
    return [line.lstrip("#").strip() for line in page.read_text().splitlines() if line.startswith("#")]


def test_every_pointer_to_a_section_names_a_heading() -> None:
    found = [
        (path, doc, section)
        for path in SOURCES
        for doc, section in POINTER.findall(_unwrapped(path.read_text(encoding="utf-8")))
    ]
    assert len(found) > 10  # the pattern still finds the pointers the sources hold
    missing = [
        f'{path.relative_to(ROOT)}: {doc}, "{section}"'
        for path, doc, section in found
        if not any(heading.lower().startswith(section.lower()) for heading in _headings(doc))
    ]
    missing += [
        f"{path.relative_to(ROOT)}: {doc}#{anchor}"
        for path in SOURCES
        for doc, anchor in ANCHOR.findall(path.read_text(encoding="utf-8"))
        if anchor not in {_anchor(heading) for heading in _headings(doc)}
    ]
    assert not missing


FILE = re.compile(r"\b((?:tests|connmw|example_apps|docs)/[\w/.-]+\.(?:py|md|toml|template))\b")


def test_every_file_the_docs_and_sources_name_exists() -> None:
    """A moved or renamed module leaves no pointer to its old place (the changelog may)."""
    pages = [ROOT / "README.md", *DOCS, *SOURCES]
    named = {(page, name) for page in pages for name in FILE.findall(page.read_text(encoding="utf-8"))}
    assert len(named) > 10  # the pattern still finds the paths the pages hold
    missing = [
        f"{page.relative_to(ROOT)}: {name}" for page, name in sorted(named) if not (ROOT / name).exists()
    ]
    assert not missing
