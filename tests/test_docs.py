"""The docs site (mkdocs.yml) covers the package: every posefast module is rendered on the API page of its layer,
every page is in the nav, and the README keeps to its size and points to the pages its material moved to. The
strict build itself (`mkdocs build --strict`) runs in CI (.ci/run)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from test_layering import LAYERS, PACKAGE, layer_of, module_name

ROOT = PACKAGE.parent
DOCS = ROOT / "docs"


def _modules() -> list[str]:
    return sorted(module_name(p) for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


def _directives(page: Path) -> list[str]:
    return re.findall(r"^::: (\S+)\s*$", page.read_text(), flags=re.M)


def _nav_pages(entries) -> list[str]:
    out = []
    for entry in entries:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            out += _nav_pages(value) if isinstance(value, list) else [value]
    return out


def _config() -> dict:
    text = (ROOT / "mkdocs.yml").read_text()
    return yaml.safe_load(text)


def test_every_module_is_on_its_layers_api_page():
    documented = {}
    for _, group, _ in LAYERS:
        if group == "facade":
            continue
        page = DOCS / "api" / f"{group}.md"
        assert page.is_file(), f"docs/api/{group}.md is missing"
        for module in _directives(page):
            assert module not in documented, f"{module} is rendered on two API pages"
            documented[module] = group
    for module in _modules():
        assert module in documented, f"{module} is on no API page (docs/api/<layer>.md)"
        group = layer_of(module)[1]
        expected = "core" if group == "facade" else group
        assert documented[module] == expected, f"{module} is on docs/api/{documented[module]}.md, not {expected}.md"
    stale = sorted(set(documented) - set(_modules()))
    assert not stale, f"API pages render modules that no longer exist: {stale}"


def test_every_page_is_in_the_nav_and_the_nav_exists():
    config = _config()
    nav = _nav_pages(config["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == pages, f"nav {sorted(nav)} != pages {pages}"
    for name in ("ARCHITECTURE.md", "results.md", "gpu.md", "data.md"):
        assert name in nav
    assert config.get("strict") is True
    assert "mkdocs build --strict" in (ROOT / ".ci" / "run").read_text(), "CI must build the docs strictly"


def test_readme_is_short_and_links_what_moved():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 120, "README.md is over 120 lines: measured findings go to docs/results.md"
    for page in ("docs/results.md", "docs/gpu.md", "docs/data.md", "docs/ARCHITECTURE.md"):
        assert f"]({page})" in readme, f"README does not link {page}"
    for heading in ("## Set up", "## Test"):  # .ci/run executes the blocks under these headings
        assert heading in readme
