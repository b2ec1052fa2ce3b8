"""The product apart from the lab: importing the product loads no lab module, and the lab's commands reach
``harmonix`` only as a plugin (the ``harmonix.commands`` entry points, loaded when the command line runs).

The entry point is read from the installed metadata, so these tests need Harmonix installed from this checkout
(``pip install --no-deps --no-build-isolation -e .``)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import click
import pytest
from click.testing import CliRunner

from harmonix.cli import plugins
from harmonix.cli.plugins import GROUP, PluginGroup, install_command, load_plugins

LAB_COMMANDS = {"bench", "eval", "experiment", "train"}


def loaded_lab_modules(code: str) -> list[str]:
    """The ``harmonix.lab`` modules a fresh interpreter holds after running ``code``."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith('harmonix.lab'))))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_product_imports_no_lab() -> None:
    assert loaded_lab_modules("import harmonix.cli, harmonix.server, harmonix.colony, harmonix.service") == []


def test_running_the_command_line_loads_the_lab_commands() -> None:
    """Invoking ``main`` (here for its help) is what brings the lab in: its commands, not yet its measurements."""
    loaded = loaded_lab_modules("from harmonix.cli import main\n"
                                "main.main(['--help'], prog_name='harmonix', standalone_mode=False)")
    assert "harmonix.lab.commands" in loaded
    assert not {"harmonix.lab.eval", "harmonix.lab.judge", "harmonix.lab.bench.field"} & set(loaded)


def test_the_lab_commands_answer_through_main() -> None:
    from harmonix.cli import main

    help_text = CliRunner().invoke(main, ["--help"])
    assert help_text.exit_code == 0, help_text.output
    listed = {line.split()[0] for line in help_text.output.split("Commands:")[1].splitlines() if line.strip()}
    assert listed >= LAB_COMMANDS and {"ask", "serve", "colony"} <= listed
    bench = CliRunner().invoke(main, ["bench", "--help"])
    assert bench.exit_code == 0 and "field" in bench.output and "soak" in bench.output


def test_the_lab_is_registered_as_an_entry_point() -> None:
    registered = {entry_point.name: entry_point.value for entry_point in metadata.entry_points(group=GROUP)}
    assert registered.get("lab") == "harmonix.lab.commands:register", \
        "the installed metadata predates the entry point: pip install --no-deps --no-build-isolation -e ."


def demo_group() -> PluginGroup:
    @click.group(cls=PluginGroup)
    def group() -> None:
        """A root with one command of its own."""

    @group.command("hello")
    def hello() -> None:
        click.echo("hello")

    return group


def test_a_plugin_that_cannot_be_imported_costs_only_its_own_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = metadata.EntryPoint(name="broken", value="harmonix_no_such_plugin:register", group=GROUP)
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: [broken] if group == GROUP else [])
    result = CliRunner().invoke(demo_group(), ["hello"])
    assert result.exit_code == 0 and result.stdout == "hello\n"
    warning = " ".join(result.stderr.split())
    assert "plugin 'broken' (harmonix_no_such_plugin:register) are not available" in warning
    assert "No module named 'harmonix_no_such_plugin'" in warning and "Traceback" not in result.output


REGISTERED: list[click.Group] = []


def register_extra(main: click.Group) -> None:
    """A plugin's target, as an entry point names it (``test_plugins:register_extra``)."""
    REGISTERED.append(main)

    @main.command("extra")
    def extra() -> None:
        click.echo("from the plugin")


def test_a_plugin_registers_on_the_group_once(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = metadata.EntryPoint(name="demo", value=f"{__name__}:register_extra", group=GROUP)
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: [demo] if group == GROUP else [])
    group = demo_group()
    REGISTERED.clear()
    assert CliRunner().invoke(group, ["extra"]).stdout == "from the plugin\n"
    assert CliRunner().invoke(group, ["hello"]).stdout == "hello\n"
    assert [group] == REGISTERED, "loaded once, on the group that runs"
    assert load_plugins(click.Group(), [demo]) == []


def test_the_hint_names_the_extra_that_installs_the_missing_package() -> None:
    harmonix = metadata.distribution("harmonix")
    assert install_command(harmonix, "markovify") == "pip install 'harmonix[bench]'"
    assert install_command(harmonix, "torch.nn") == "pip install 'harmonix[train]'"
    assert install_command(harmonix, "no_such_package") is None
    assert install_command(harmonix, "harmonix.lab.missing") is None, "no extra brings back a module of its own"
    assert install_command(None, "markovify") is None
