"""The README's plugin tutorial runs: its files are written out, installed in a fresh venv and tested there."""

from __future__ import annotations

import re
from pathlib import Path

from tests.scaffold.fresh import FreshVenv

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
#: A fenced block whose first line names the file it is: ```python\n# path/to/file.py\n...```
BLOCK = re.compile(r"^```(?:python|toml)\n# (?P<path>[\w./-]+)\n(?P<body>.*?)^```$", re.M | re.S)


def tutorial_files() -> dict[str, str]:
    section = README[README.index("## Writing a plugin\n") : README.index("## Development\n")]
    return {m["path"]: f"# {m['path']}\n{m['body']}" for m in BLOCK.finditer(section)}


def test_the_tutorial_names_every_file_and_hook() -> None:
    files = tutorial_files()
    assert set(files) == {
        "pyproject.toml", "candlewick.toml", "candlewick_csvfeed/lines.py", "candlewick_csvfeed/source.py",
        "candlewick_csvfeed/plugin.py", "tests/test_csvfeed.py",
    }  # fmt: skip
    plugin = files["candlewick_csvfeed/plugin.py"]
    for hook in ("sources", "sinks", "buffers"):
        assert f"def candlewick_register_{hook}()" in plugin
    assert "def candlewick_control_methods(host" in plugin


def test_the_tutorial_package_installs_and_passes_its_tests(tmp_path: Path) -> None:
    project = tmp_path / "csvfeed"
    for rel, text in tutorial_files().items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    (project / "candlewick_csvfeed" / "__init__.py").write_text("")
    venv = FreshVenv(tmp_path / "venv")
    installed = venv.pip_install(project)
    assert installed.returncode == 0, installed.stderr
    tested = venv.run("-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests", cwd=project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "failed" not in tested.stdout
    assert "not applicable to csvfeed: a file has no connection to drop" in tested.stdout
    checked = venv.run("-m", "candlewick", "--config", "candlewick.toml", "check-config", cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
