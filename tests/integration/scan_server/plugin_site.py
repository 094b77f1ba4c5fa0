"""Install scan plugin packages into a directory as an installer does (package + dist-info).

The scan server finds them the way it finds any installed package: through
``importlib.metadata`` entry points on its ``sys.path`` (PYTHONPATH points at
the directory). Building a wheel would need ``wheel`` in the test venv; the
files an installer writes are these.
"""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "scans" / "example_plugin"


def install(
    site: Path, dist: str, entry_points: dict[str, str], packages: dict[str, Path | dict[str, str]]
) -> None:
    """Write ``packages`` (a source directory, or ``{file: text}``) and ``<dist>-0.1.0.dist-info`` into ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    for name, source in packages.items():
        target = site / name
        if isinstance(source, Path):
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            for file, text in source.items():
                (target / file).write_text(text)
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[bec.scans]\n{lines}")
    (info / "RECORD").write_text("")


def install_example(site: Path) -> None:
    """The example plugin of docs/scans.md (tests/data/scans/example_plugin)."""
    install(
        site,
        "example-scans",
        {"plugin_scans": "example_scans.scans"},
        {"example_scans": EXAMPLE / "example_scans"},
    )
