"""The Sweep page's form (issue 19, item 7 and the text item): Values follows the swept
parameter, the field it overrides is greyed out, a readable range that is too large or out of
range says so, messages name the page's controls (the CLI keeps its flags), an error is set apart
from the previous sweep's results, Stop goes when the sweep ends, and a stopped sweep says how far
it got, with its results so far (in Chromium)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_app_sweep import sweep_page, tiny

from nn.hosting import limits
from nn.core.settings import ConfigError
from nn.sweep import parse_values
from app.sweep.form import DEFAULT_VALUES, page_message, values_for

SHOTS = Path(__file__).resolve().parent / "artifacts"      # git-ignored
VALUES = "Values (numbers, and ranges START:STOP or START:STOP:STEP)"




def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


# --- Values follows the swept parameter ---------------------------------------------------------
def test_switching_the_parameter_switches_the_values():
    at = sweep_page()
    assert at.text_input(key="sw_values").value == "3:40"
    at.selectbox(key="sw_param").set_value("lr").run()
    assert not at.exception, at.exception
    assert at.text_input(key="sw_values").value == DEFAULT_VALUES["lr"]     # no "3:40" learning rates
    at.selectbox(key="sw_param").set_value("depth").run()
    assert at.text_input(key="sw_values").value == DEFAULT_VALUES["depth"]


def test_switching_back_brings_back_what_was_typed():
    at = tiny(sweep_page(), values="5:9")
    at.button(key="sw_run").click().run()                    # (a form's text counts once submitted)
    at.selectbox(key="sw_param").set_value("lr").run()
    tiny(at, values="0.5 0.05").button(key="sw_run").click().run()
    assert not errors(at), errors(at)
    at.selectbox(key="sw_param").set_value("hidden").run()
    assert at.text_input(key="sw_values").value == "5:9"
    at.selectbox(key="sw_param").set_value("lr").run()
    assert at.text_input(key="sw_values").value == "0.5 0.05"
    at.switch_page("app/pages/train.py").run()                   # leave and come back: the pair stays
    at.switch_page("app/pages/sweep.py").run()
    assert at.selectbox(key="sw_param").value == "lr"
    assert at.text_input(key="sw_values").value == "0.5 0.05"


def test_values_for_never_carries_text_to_another_parameter():
    kept: dict[str, str] = {}
    assert values_for("lr", "hidden", "3:40", kept) == DEFAULT_VALUES["lr"]
    assert values_for("hidden", "lr", "0.1 1", kept) == "3:40"
    assert values_for("lr", "hidden", "3:40", kept) == "0.1 1"


# --- which wins: the field the swept parameter overrides ------------------------------------------
def test_the_swept_field_is_greyed_out_and_not_read():
    at = tiny(sweep_page())
    assert not at.number_input(key="sw_lr").disabled
    assert not at.text_input(key="sw_batch_size").disabled
    at.selectbox(key="sw_param").set_value("lr").run()
    assert at.number_input(key="sw_lr").disabled
    assert any("Learning rate field below, which is not used" in c.value for c in at.caption)
    at.session_state["sw_batch_size"] = "banana"                          # greyed out: not read
    at.selectbox(key="sw_param").set_value("batch_size").run()
    assert at.text_input(key="sw_batch_size").disabled and not at.number_input(key="sw_lr").disabled
    tiny(at, values="50 full").button(key="sw_run").click().run()
    assert at.session_state["sweep_settings"]["batch_size"] == "banana"
    assert not at.exception and not errors(at), errors(at)
    assert [s["value"] for s in at.session_state["sweep_result"]["summary"]] == [50, "full"]


def test_sweeping_hidden_or_depth_says_what_hidden_layers_still_gives():
    at = sweep_page()
    assert any("Hidden layers below gives only how many layers" in c.value for c in at.caption)
    at.selectbox(key="sw_param").set_value("depth").run()
    assert any("as wide as the first size in Hidden layers" in c.value for c in at.caption)
    assert not at.text_input(key="sw_hidden").disabled


# --- a readable range is never "unreadable" -------------------------------------------------------
def test_a_range_with_too_many_values_says_so_naming_the_parameter():
    at = tiny(sweep_page(), values="3:2000")
    at.button(key="sw_run").click().run()
    assert not at.exception
    [text] = errors(at)
    assert "could not read" not in text
    assert text.startswith("Values: 3:2000 gives 1998 values for hidden"), text
    assert "at most 500" in text and "3:2000:4" in text


def test_a_range_out_of_range_says_so_with_the_allowed_range():
    at = sweep_page()
    at.selectbox(key="sw_param").set_value("lr").run()
    tiny(at, values="3:2000")
    at.button(key="sw_run").click().run()
    [text] = errors(at)
    assert "could not read" not in text
    assert "3:2000 is out of range for lr, which takes numbers with 0 < lr <= 100" in text, text
    at.selectbox(key="sw_param").set_value("hidden").run()
    tiny(at, values="3:5000")
    at.button(key="sw_run").click().run()
    [text] = errors(at)
    assert "3:5000 is out of range for hidden, which takes whole numbers from 1 to 4096" in text, text


@pytest.mark.parametrize("param,token,needle", [
    ("hidden", "3:2000", "gives 1998 values for --param hidden"),
    ("hidden", "3:5000", "out of range for --param hidden"),
    ("lr", "3:2000", "out of range for --param lr"),
    ("depth", "0:3", "out of range for --param depth"),
])
def test_the_engine_keeps_the_cli_flags_in_its_messages(param, token, needle):
    with pytest.raises(ConfigError, match="--values") as info:
        parse_values(param, [token])
    assert needle in str(info.value) and "could not read" not in str(info.value)


# --- messages name the page's controls, not the CLI's flags ---------------------------------------
@pytest.mark.parametrize("widget,key,value,needle", [
    ("text_input", "sw_values", "0 5", "Values for hidden must be whole numbers from 1 to 4096"),
    ("text_input", "sw_values", "3 3", "Values must not repeat"),
    ("text_input", "sw_values", "banana", "Values for hidden must be"),
    ("text_input", "sw_hidden", "0", "Hidden layers must be 1 to 10 whole numbers, each from 1 to 4096"),
    ("number_input", "sw_seed", 2**32 - 1, "Seed plus trials must stay below 2**32"),
])
def test_page_messages_name_the_control_not_the_flag(widget, key, value, needle):
    at = tiny(sweep_page())
    getattr(at, widget)(key=key).set_value(value)
    at.button(key="sw_run").click().run()
    assert not at.exception, at.exception
    [text] = errors(at)
    assert needle in text, text
    assert "--" not in text, text


def test_page_message_translates_every_flag_form():
    assert page_message("values (--values) for --param lr must be numbers") == "Values for lr must be numbers"
    assert page_message("noise (--noise) must be in [0, 2]; got 3") == "Noise (2-D sets) must be in [0, 2]; got 3"
    assert page_message("n_samples (--n-samples) must be") == "Samples (2-D sets) must be"
    assert page_message("hidden (--hidden): a 2-4096-4096 network") == "Hidden layers: a 2-4096-4096 network"
    assert page_message("use --trials or --batch-size") == "Use Trials per value or Batch size"


# --- an error is set apart from the previous sweep's results --------------------------------------
def test_an_error_is_set_apart_from_the_previous_results():
    at = tiny(sweep_page())
    at.button(key="sw_run").click().run()
    assert not errors(at) and at.session_state["sweep_result"]
    assert [s.value for s in at.subheader] == ["Results"]
    at.text_input(key="sw_values").set_value("3:2000")
    at.button(key="sw_run").click().run()
    assert len(errors(at)) == 1
    assert [s.value for s in at.subheader] == ["The previous sweep's results"]
    assert any("Not the settings above (they did not run): the sweep before, hidden = 2, 3, 4" in c.value
               for c in at.caption), [c.value for c in at.caption]
    order = [kind for kind in in_order(at.main) if kind in ("error", "divider", "subheader", "dataframe")]
    assert order == ["error", "divider", "subheader", "dataframe"], order     # message, then the old results


def in_order(node, out: list[str] | None = None) -> list[str]:
    """The element types on the page, top to bottom."""
    out = [] if out is None else out
    kids = getattr(node, "children", None)
    if isinstance(kids, dict):
        for k in sorted(kids):
            in_order(kids[k], out)
    else:
        out.append(node.type)
    return out


# --- Stop goes with the sweep -----------------------------------------------------------------------
def test_no_stop_button_once_the_sweep_has_ended():
    at = tiny(sweep_page())
    at.button(key="sw_run").click().run()
    assert not at.exception and at.session_state["sweep_result"]
    assert not [b for b in at.button if b.key == "sw_stop"]


# --- a stopped sweep says how far it got (Chromium) -------------------------------------------------
def _open(page, url: str):
    page.goto(url + "/sweep")
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    main = page.get_by_test_id("stMain")
    main.get_by_role("button", name="Run sweep").wait_for(timeout=30_000)
    return main


def _fill(main, label: str, value: str) -> None:
    box = main.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Tab")


def _pick(page, main, option: str) -> None:
    """Choose ``option`` in "Parameter to sweep". A click that lands while the page is still
    rerunning (just after a Stop) can have its list closed by the rerun: open it again, as a
    visitor would, up to three times."""
    for attempt in range(3):
        main.get_by_role("combobox", name="Parameter to sweep").click()
        choice = page.get_by_role("option", name=option, exact=True)
        try:
            choice.wait_for(timeout=10_000)
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            continue
        choice.click()
        return


def _shots(page, name: str, message) -> None:
    """tests/artifacts/sweep_<name>_{desktop,phone}.png: 1280x1800 and 390x844, ``message`` in view."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(1, 1)
    for tag, size in (("desktop", {"width": 1280, "height": 1800}), ("phone", {"width": 390, "height": 844})):
        page.set_viewport_size(size)
        page.wait_for_timeout(800)
        message.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(1200)                        # let plotly finish drawing
        page.screenshot(path=str(SHOTS / f"sweep_{name}_{tag}.png"))
    page.set_viewport_size({"width": 1280, "height": 900})


def test_stop_at_once_says_stopped_after_0_runs(app_url, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        main = _open(page, app_url)
        _fill(main, "Epochs", "3000")
        main.get_by_role("button", name="Run sweep").click()
        stop = main.get_by_role("button", name="Stop", exact=True)
        stop.wait_for(timeout=30_000)
        stop.click()
        main.get_by_text("Stopped after 0 of 114 runs").wait_for(timeout=30_000)
        assert main.get_by_role("button", name="Stop", exact=True).count() == 0
    finally:
        context.close()


@pytest.mark.skipif(limits().max_workers < 2, reason="needs two worker processes")
def test_stop_after_some_runs_shows_them(app_url, browser):
    """batch_size 1 and full, one trial each, on two workers: the full batch finishes at once,
    batch size 1 would take minutes. Stop after the first: "Stopped after 1 of 2 runs", its table."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        main = _open(page, app_url)
        _pick(page, main, "batch_size")
        main.get_by_label("Batch size", exact=True).wait_for(timeout=30_000)
        deadline = time.monotonic() + 30
        while main.get_by_label("Batch size", exact=True).is_enabled():    # greyed out once swept
            assert time.monotonic() < deadline, "Batch size is not greyed out while swept"
            time.sleep(0.2)
        _fill(main, VALUES, "1 full")
        _fill(main, "Trials per value", "1")
        _fill(main, "Hidden layers", "8")
        _fill(main, "Epochs", "1000")
        main.get_by_role("button", name="Run sweep").click()
        main.get_by_text("1 of 2 networks trained").wait_for(timeout=60_000)
        main.get_by_role("button", name="Stop", exact=True).click()
        stopped = main.get_by_text("Stopped after 1 of 2 runs")
        stopped.wait_for(timeout=30_000)
        main.get_by_test_id("stDataFrame").wait_for(timeout=30_000)
        assert main.get_by_role("button", name="Stop", exact=True).count() == 0
        _shots(page, "stopped", stopped)
        # then a range out of range: the message names the control, apart from the old results
        _pick(page, main, "lr")
        page.wait_for_timeout(1000)
        _fill(main, VALUES, "3:2000")
        main.get_by_role("button", name="Run sweep").click()
        refused = main.get_by_text("3:2000 is out of range for lr")
        refused.wait_for(timeout=30_000)
        main.get_by_text("The previous sweep's results").wait_for(timeout=30_000)
        _shots(page, "out_of_range", main.get_by_test_id("stAlertContentError"))
    finally:
        context.close()


def test_the_form_takes_l1_and_hands_it_to_the_sweep():
    """Issue 20: L1 beside weight decay on the Sweep page, as on the Train page and the CLI."""
    from app.sweep.form import DEFAULTS, build_sweep
    assert build_sweep({**DEFAULTS, "l1": 0.001}).run.l1 == 0.001
    at = tiny(sweep_page())
    assert at.number_input(key="sw_l1").value == 0.0
    at.number_input(key="sw_l1").set_value(0.002)
    at.button(key="sw_run").click().run()
    assert not at.exception and not errors(at), (at.exception, errors(at))
