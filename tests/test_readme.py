"""The README is the front door and the docs/ pages hold the rest: the CI recipe it shows is the
one .ci/run runs, and every link between them leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def test_the_readme_shows_the_ci_recipe_that_ci_runs() -> None:
    recipe = (ROOT / "examples" / "ci-recipe.sh").read_text(encoding="utf-8")
    assert f"```sh\n{recipe}```" in README.read_text(encoding="utf-8"), (
        "README.md's CI recipe differs from examples/ci-recipe.sh (the one .ci/run runs): copy it")


def test_the_readme_stays_a_front_door() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 160


def test_every_page_for_each_audience_exists() -> None:
    names = {p.name for p in PAGES}
    assert {"checking.md", "reference-server.md", "testing.md", "contributing.md"} <= names


def test_every_relative_link_leads_to_a_file_and_heading() -> None:
    broken = []
    for page in PAGES:
        for target, anchor in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://")):
                continue
            path = (page.parent / target).resolve()
            if not path.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and anchor[1:] not in anchors(path):
                broken.append(f"{page.name}: {target}{anchor}")
    for page in PAGES:
        for anchor in re.findall(r"\]\((#[^)\s]+)\)", page.read_text(encoding="utf-8")):
            if anchor[1:] not in anchors(page):
                broken.append(f"{page.name}: {anchor}")
    assert not broken, broken


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found
