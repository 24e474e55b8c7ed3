"""Issue 19, the first five minutes on the Train page: the data and the untrained network before
Train, what is missing when Train is off, a Step on a fresh model, and the narrow layout."""
from __future__ import annotations

from app_pages import open_app
from browser_pages import open_train_page
from streamlit.testing.v1 import AppTest

from app.train import first_screen

TINY = {"preset": "moons", "n_samples": "400", "epochs": "3", "hidden": "4"}


def _captions(at: AppTest) -> list[str]:
    return [img.caption for e in at.get("image") for img in e.proto.imgs] + [c.value for c in at.caption]


def _progress(at: AppTest) -> str:
    return at.get("progress")[0].proto.text


def test_before_train_the_page_shows_the_data_and_the_untrained_network():
    at = open_app(**TINY)
    assert not at.exception and at.session_state["train_session"].model is None
    captions = " ".join(_captions(at))
    assert "Before training: the untrained 2-4-2 network" in captions     # the data, its boundary
    assert "each square is a neuron's output" in captions                  # and the network
    at.number_input(key="tw.h0").set_value(7).run()                        # follows the settings
    assert "untrained 2-7-2 network" in " ".join(_captions(at))
    at.button(key="train.go").click().run()
    assert "Before training" not in " ".join(_captions(at))                # the trained one instead
    assert first_screen.KEY not in at.session_state                        # its preview let go


def test_before_train_an_image_set_shows_the_untrained_networks_guesses():
    at = open_app(preset="moons", dataset="digits", hidden="16", epochs="2")
    captions = " ".join(_captions(at))
    assert "untrained 64-16-10 network" in captions and "red (wrong) to green (right)" in captions


def test_a_network_too_big_to_preview_shows_the_data_alone(monkeypatch):
    monkeypatch.setattr(first_screen, "PREVIEW_PARAMS", 10)
    first_screen._shared_pictures.clear()                  # made with the usual limit by earlier tests
    at = open_app(**TINY)
    assert "the network is built when you press Train" in " ".join(_captions(at))
    first_screen._shared_pictures.clear()


def test_when_train_is_off_the_page_says_what_is_missing_not_ready():
    at = open_app(preset="moons", dataset="table", hidden="16")          # no table uploaded
    assert at.button(key="train.go").disabled
    assert "Ready" not in _progress(at) and "your own data is ready" in _progress(at)
    assert "Ready" in _progress(open_app(**TINY))                         # and Ready when it is on


def test_why_not_ready_names_each_reason():
    assert "settings" in first_screen.why_not_ready(None, None, False)
    assert "own data" in first_screen.why_not_ready(object(), None, True)
    assert "could not be loaded" in first_screen.why_not_ready(object(), None, False)
    assert first_screen.why_not_ready(object(), object(), False) is None


def test_a_step_on_a_fresh_model_does_not_read_done_of_zero():
    at = open_app(**TINY)
    at.segmented_control(key="inside.view").set_value("Step through backprop").run()
    at.button(key="inside.step").click().run()
    assert not at.exception and at.session_state["train_session"].model is not None
    text = _progress(at)
    assert "epoch 0 of 0" not in text and "Done" not in text and "not trained yet" in text
    assert all(m.value != "0.000 s" for m in at.metric)                   # no time per epoch yet


def test_on_a_phone_the_presets_and_train_are_on_the_first_screen(app_url, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        main = open_train_page(page, app_url + "/?preset=moons")
        preset = main.get_by_role("button", name="mnist", exact=True)
        train = main.get_by_role("button", name="Train", exact=True)
        for button in (preset, train):
            box = button.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 844
        preset.click()
        page.wait_for_url("**dataset=mnist**", timeout=30_000)
    finally:
        context.close()
    wide = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = wide.new_page()
    try:
        main = open_train_page(page, app_url + "/?preset=moons")
        main.get_by_role("button", name="mnist", exact=True).wait_for(state="hidden", timeout=10_000)
    finally:
        wide.close()


def test_the_time_left_is_measured_from_the_pace_not_the_start_up():
    from app.train.session import TrainSession
    from nn.runs.experiment import config_from_preset, load_data
    cfg = config_from_preset("moons", n_samples=200, hidden=[4], epochs=10)
    s = TrainSession()
    s.new_model(cfg, load_data(cfg))
    s.start(10)
    assert s.eta_seconds() == float("inf")                       # nothing measured: "estimating"
    for epoch, wall in ((1, 5.0), (2, 5.5), (3, 6.0)):           # 5 s of start-up, then 0.5 s/epoch
        s.trainer.history.append({"epoch": epoch, "step": epoch, "seconds": 0.0, "train_loss": 1.0,
                                  "train_accuracy": 0.5, "val_loss": None, "val_accuracy": None,
                                  "end_of_epoch": True})
        s.run_wall = wall
        eta = s.eta_seconds()
        assert eta == float("inf") if epoch < 3 else eta == 3.5  # 7 epochs left at 0.5 s, not 14 s


def test_a_network_change_during_a_run_is_answered_at_once(app_url, page):
    """Playground resets at once; here the page says at once that the running network cannot
    take the change (AppTest cannot catch a page mid-run: it runs each script to its end)."""
    main = open_train_page(page, app_url + "/?preset=moons&epochs=5000&n_samples=2000")
    main.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("elapsed").first.wait_for(timeout=30_000)
    size = page.get_by_test_id("stSidebar").get_by_label("Layer 1 size")
    size.fill("9")
    size.press("Enter")
    page.get_by_text("the network training now").wait_for(timeout=30_000)
    page.get_by_text("elapsed").first.wait_for(timeout=30_000)   # said while the run goes on
    assert "the network training now" in main.inner_text()
    main.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped at epoch").first.wait_for(timeout=30_000)


def test_the_chart_library_is_loaded_before_training_ends(app_url, page):
    """No grey placeholders after Done: the first screen's chart has loaded Plotly already, so
    the final charts only draw (the library's first load took 2-4 s on a busy machine)."""
    main = open_train_page(page, app_url + "/?preset=moons&epochs=5")
    page.wait_for_selector("[data-testid=stMain] .js-plotly-plot .main-svg", timeout=30_000)
    main.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Done: epoch 5 of 5").first.wait_for(timeout=60_000)
    page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot .gtitle')]"
                           ".some(e => e.textContent.includes('Accuracy'))", timeout=30_000)


def test_only_built_in_datasets_share_their_first_screen(monkeypatch):
    """Many visitors on one link cost one build; a visitor's own points never reach another."""
    shared = []
    real = first_screen._pictures
    monkeypatch.setattr(first_screen, "_shared_pictures",
                        lambda key, cfg, data: shared.append(cfg.dataset) or real(cfg, data))
    open_app(**TINY)
    at = open_app(preset="moons", dataset="points", hidden="4")
    assert not at.exception and shared == ["moons"]
