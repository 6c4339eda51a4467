"""The one output path: every mode (human, JSON, quiet) and every kind of rendering is redacted."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from rich.panel import Panel

from rlswarm_cli.output import Col, Output, human_value
from rlswarm_core.secrets.redact import register_secret

SECRET = "tok_outputTestSecret_0123456789abcdef"


def _output(width: int = 40, **kwargs: bool) -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    output = Output(
        no_color=True,
        _console=Console(file=out, width=width, no_color=True, color_system=None),
        _err_console=Console(file=err, width=width, no_color=True, color_system=None),
        **kwargs,
    )
    return output, out, err


@pytest.fixture(autouse=True)
def _secret() -> None:
    register_secret(SECRET)


def test_a_table_cell_is_redacted_before_it_is_wrapped() -> None:
    output, out, _ = _output(width=30)
    # the secret is longer than the column: wrapping the raw value would split it across lines
    output.show(
        output.table(["name", Col("value", wrap=True)], [["token", f"{SECRET} and more"], ["n", None]])
    )
    text = out.getvalue()
    assert "***" in text and "outputTest" not in text and "0123456789" not in text
    assert text.splitlines()[-1].split() == ["n", "-"]


def test_any_renderable_is_redacted_line_by_line_and_keeps_its_layout() -> None:
    output, out, _ = _output(width=60)
    output.emit({"x": 1}, lambda: Panel(f"key {SECRET}", title="a panel"))
    text = out.getvalue()
    assert "key ***" in text and SECRET not in text
    assert text.splitlines()[0].startswith("╭") and "a panel" in text


def test_plain_lines_stay_whole_and_json_is_redacted() -> None:
    output, out, _ = _output(width=20)
    long_url = "https://example.org/" + "a" * 40
    output.emit({"url": long_url}, f"pushed to {long_url}")
    assert out.getvalue() == f"pushed to {long_url}\n"  # not wrapped at 20 columns

    output.json_mode = True
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", printed)
        output.emit({"token": SECRET, "nested": [{"v": SECRET}]}, "never shown")
        output.record({"line": f"log {SECRET}"}, "never shown")
    first, second = printed.getvalue().split("\n}\n")
    assert json.loads(first + "}") == {"token": "***", "nested": [{"v": "***"}]}
    assert json.loads(second) == {"line": "log ***"}


def test_messages_go_to_stderr_and_quiet_keeps_only_warnings_and_errors() -> None:
    output, out, err = _output(quiet=True)
    output.info(f"info {SECRET}")
    output.success("done")
    output.warn(f"careful {SECRET}")
    output.error("broken")
    assert out.getvalue() == ""
    assert err.getvalue().splitlines() == ["warning: careful ***", "error: broken"]


def test_progress_and_live_draw_nothing_in_json_mode() -> None:
    output, out, err = _output(json_mode=True)
    with output.progress("working", total=2) as bar:
        bar.update(advance=1, description=f"step {SECRET}")
    with output.live(lambda: "frame") as view:
        view.refresh()
    output.show("human text")
    assert out.getvalue() == "" and err.getvalue() == ""


def test_live_view_redraws_redacted_frames() -> None:
    output, out, _ = _output()
    frames = iter([f"one {SECRET}", "two", "three"])
    current = {"text": next(frames)}
    with output.live(lambda: output.text(current["text"])) as view:
        for frame in frames:
            current["text"] = frame
            view.refresh()
    text = out.getvalue()
    assert "three" in text and SECRET not in text


def test_human_values_are_never_python_reprs() -> None:
    assert human_value(None) == "-"
    assert human_value(True) == "true"
    assert human_value({"A": "1", "B": None}) == "A=1, B=-"
    assert human_value(["x", "y"]) == "x, y" and human_value([]) == "-"
    assert human_value(0.5) == "0.5"
