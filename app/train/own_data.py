"""Streamlit side of the user's own data on the Train page: upload a table, or click points onto
the plane (the library is ``nn.data.tables``; the Train page calls in here).

Everything lives in this session's ``st.session_state`` (never ``st.cache_*``, which is shared
between sessions, and never on disk), bounded by ``nn.data.tables.table_limits()``:

- ``own.table``: the uploaded table (name, frame, summary, id); ``own.choices``: label,
  features, standardise, drop bad rows, whether a numeric label is a class or a quantity
  (the task, asked only when it could be either) and whether to choose the training settings
  (``auto``, ``app.train.own_settings``) (copied from the widgets, so they survive page switches);
- ``own.points``: the clicked ``Points``; ``own.version``: bumped on every edit;
- ``own.built``: per kind, the ``Dataset`` built from the current choices (and its key);
- ``own.model_data``: (kind, key, ``Dataset``) the session's model trains on (kept when the
  choices change, and used again when they come back).
"""
from __future__ import annotations

import re
import time
from typing import Any, Callable

import streamlit as st

from app import jobs, uploads
from app.keep import restore
from app.text import plain
from app.train.own_points import POINT_CLASSES, apply_click, clicked_point, selection
from app.train.session import TrainSession
from nn.core.config import RunConfig
from nn.core.settings import OWN_DATASETS
from nn.data import TOY_DATASETS, Dataset, DatasetUnavailable
from nn.data.features import plane_proba
from nn.data.tables import (BadRowsError, Points, TableError, dataset_to_csv, decoded_bytes, parse_job,
                            read_table, table_limits)
from nn.data.tables.describe import MAX_CLASSES, describe_table
from nn.data.tables.quantity import label_tasks
from nn.views.table_figures import plane_figure
from nn.hosting import HostingConfigError
from nn.runs.experiment import TABLE_SPLIT_SEED, table_dataset
from nn.hosting.isolated import JobStopped
from nn.runs.slots import JOBS, BudgetRefused, Need

LABELS = {"table": "Your own table (upload)", "points": "Draw points"}
TABLE, POINTS, CHOICES, BUILT, MODEL_DATA = "own.table", "own.points", "own.choices", "own.built", "own.model_data"
MAX_CSV_CELLS = 5_000_000            # larger datasets (MNIST) are not offered as CSV
HEAD_ROWS = 10
START_LABELS = {"empty": "an empty plane", "moons": "two moons (200 points)", "circles": "circles (200 points)",
                "xor": "XOR (200 points)", "gaussian": "two Gaussians (200 points)",
                "spiral": "a spiral (200 points)"}


class NotReady(DatasetUnavailable):
    """Own data chosen but not usable yet (no table, no label, too few points): the panel says why."""


def is_own(name: str | None) -> bool:
    return name in OWN_DATASETS


def start_run() -> None:
    """Call first, before the settings are drawn: on a session's first visit, note whether a link
    chose own data (it brings no data: the panel says so plainly); read a newly uploaded table
    (so the settings, e.g. the parameter count, already see it)."""
    if "train_cfg" not in st.session_state and is_own(st.query_params.get("dataset")):
        st.session_state["own.link_note"] = st.query_params.get("dataset")
    _take_upload(st.session_state.get("own.upload"))


def _take_upload(file: Any) -> None:
    """Read ``file`` if it is one not read yet (each upload is read once, refused or not), then
    let Streamlit's copy of it go (kept when the read was stopped: the next run reads it)."""
    if hasattr(file, "getvalue") and file.file_id != st.session_state.get("own.read_file"):
        stopped = False
        try:
            stopped = not _read(file)
        finally:
            if not stopped:
                uploads.release(file)


# --- datasets ------------------------------------------------------------------------------------
CHOICE_NAMES = ("label", "features", "standardize", "drop", "task", "auto")
TASK_WORDS = {"classification": "a class (classification)", "regression": "a quantity (regression)"}


def _choices() -> dict[str, Any]:
    """The table choices, from the widgets when they are there (their values are current from
    the start of a run, before the panel draws them: the sidebar reads them too)."""
    ss = st.session_state
    choices = ss.setdefault(CHOICES, {})
    for name in CHOICE_NAMES:
        if "own.w." + name in ss:
            choices[name] = ss["own.w." + name]
    return choices


def _table_key(cfg: RunConfig) -> tuple | None:
    table = st.session_state.get(TABLE)
    if table is None:
        return None
    c = _choices()
    return (table["id"], c.get("label"), tuple(c.get("features") or ()), _standardize(),
            bool(c.get("drop", False)), cfg.test_size, cfg.task)


def _standardize() -> bool | None:
    """'Standardise features' as ticked, or None while the training settings are chosen for the
    table (``app.train.own_settings``): the scaling is chosen with them, from the training rows
    (``nn.runs.table_defaults.choose_scaling``)."""
    c = _choices()
    return None if c.get("auto", True) else bool(c.get("standardize", True))


def _build_table(cfg: RunConfig) -> Dataset:
    table, c = st.session_state[TABLE], _choices()
    return table_dataset(table["frame"], c["label"], c.get("features"), cfg,
                         standardize=_standardize(), drop_bad_rows=c.get("drop", False),
                         name=table["name"])


def possible_tasks() -> tuple[str, ...]:
    """What the chosen label column can be (``nn.data.tables.quantity.label_tasks``)."""
    table, label = st.session_state.get(TABLE), _choices().get("label")
    if table is None or label is None:
        return ("classification",)
    try:
        info = table["summary"].column(label)
    except KeyError:
        return ("classification",)
    return label_tasks(info.kind, info.n_distinct, info.whole_numbers, MAX_CLASSES)


def table_task() -> str:
    """The table's task: the label's only possible one, else the visitor's answer (classes
    until asked)."""
    tasks = possible_tasks()
    answer = _choices().get("task")
    return answer if answer in tasks else tasks[0]


def _points() -> Points:
    if POINTS not in st.session_state:
        st.session_state[POINTS] = Points(POINT_CLASSES)
        st.session_state["own.version"] = 0
    return st.session_state[POINTS]


def _build_points(cfg: RunConfig) -> Dataset:
    return _points().to_dataset(test_size=cfg.test_size, seed=TABLE_SPLIT_SEED, features=cfg.features_2d)


def _build(cfg: RunConfig) -> tuple[Dataset | None, str | None]:
    """The dataset of the current choices (built once per choice), or why there is none."""
    kind = cfg.dataset
    if kind == "table":
        key = _table_key(cfg)
        if key is None:
            return None, "Upload a table first."
        if not key[1]:
            return None, "Pick the label column."
    else:
        _points()
        key = (st.session_state["own.version"], cfg.test_size, tuple(cfg.features_2d))
    built = st.session_state.setdefault(BUILT, {})
    model = st.session_state.get(MODEL_DATA)
    if model is not None and model[:2] == (kind, key):      # back to the model's own choices
        built[kind] = (key, model[2], None)
    if kind not in built or built[kind][0] != key:
        try:
            data, error = (_build_table(cfg) if kind == "table" else _build_points(cfg)), None
        except TableError as exc:
            data, error = None, exc
        built[kind] = (key, data, error)            # one per kind: the old one is let go
    _, data, error = built[kind]
    return data, (None if error is None else error if isinstance(error, BadRowsError) else str(error))


def current(cfg: RunConfig | None) -> Dataset | None:
    """The own dataset the current choices give (None if not ready or not own data)."""
    if cfg is None or not is_own(cfg.dataset):
        return None
    return _build(cfg)[0]


def dataset(cfg: RunConfig) -> Dataset:
    """The own dataset for ``cfg``; ``NotReady`` (with the reason) when there is none yet."""
    data, why = _build(cfg)
    if data is None:
        raise NotReady(str(why) if why else "your own data is not ready yet")
    return data


def model_dataset(s: TrainSession) -> Dataset | None:
    """The own dataset the session's model trains on. If it is gone (say a new table replaced
    it), the model is let go with a notice: nothing else could be drawn or continued with it."""
    ss = st.session_state
    if s.model is None or s.trainer is None:
        return None
    built = [(kind, key, data) for kind, (key, data, _) in ss.get(BUILT, {}).items()]
    for entry in ([ss[MODEL_DATA]] if ss.get(MODEL_DATA) else []) + built:
        if entry[2] is not None and s.trainer.y is entry[2].y_train:
            ss[MODEL_DATA] = entry                    # (kind, key, dataset)
            return entry[2]
    s.reset()
    s.notice = "The data that model was trained on is gone (a new table or new points): press Train."
    return None


def changed(s: TrainSession, cfg: RunConfig | None) -> list[str]:
    """'data' when the session's model trains on own data that the current choices replaced."""
    if s.model is None or cfg is None or not is_own(cfg.dataset) or s.cfg.dataset != cfg.dataset:
        return []
    data = current(cfg)
    return [] if data is not None and data is model_dataset(s) else [
        "data (the table's label, features, rows, standardisation or test share)"
        if cfg.dataset == "table" else "data (the points or the test share)"]


# --- the panel -----------------------------------------------------------------------------------
def panel(cfg: RunConfig | None, s: TrainSession) -> None:
    """The upload or drawing panel of the chosen own data (nothing for the built-in sets)."""
    name = cfg.dataset if cfg is not None else st.session_state.get("tw.dataset")
    if not is_own(name):
        return
    with st.container(border=True):
        if name == "table":
            _table_panel(cfg)
        else:
            _points_panel(cfg, s)


def _link_note(kind: str) -> None:
    if st.session_state.get("own.link_note") == kind:
        what = "your own table" if kind == "table" else "points drawn on the plane"
        st.info(f"This link chose {what}, but a link cannot carry the data itself: it stays in the "
                f"browser session that made it. The other settings came from the link; "
                f"{'upload the table' if kind == 'table' else 'draw the points'} here to go on.",
                icon=":material/link_off:")


def _table_panel(cfg: RunConfig | None) -> None:
    st.subheader("Your own table")
    if st.session_state.get(TABLE) is None:
        _link_note("table")
    st.caption(f"Limits: {table_limits().describe()}. The table stays in this browser "
               f"session only: it is not written to the server's disk nor shared with anyone.")
    file = st.file_uploader("Upload a table", type=["csv", "tsv", "txt", "tab", "parquet", "pq"],
                            key="own.upload", max_upload_size=max(1, table_limits().max_mb),
                            help=uploads.BUSY_HELP)
    _take_upload(file)
    if "own.table_error" in st.session_state:
        st.error(st.session_state["own.table_error"], icon=":material/error:")
    table = st.session_state.get(TABLE)
    if table is None:
        return
    summary = table["summary"]
    st.markdown(f"**{plain(table['name'])}**: {summary.n_rows:,} rows, {summary.n_columns:,} columns. "
                f"The first {len(summary.head)} rows:")
    st.dataframe(summary.head, height=min(38 + 35 * len(summary.head), 400))
    with st.expander("Columns: kind, distinct values, missing values and infinities"):
        st.dataframe(summary.columns_frame(), hide_index=True)
    _table_choices(summary, cfg)
    if cfg is not None:
        _table_status(cfg, summary)


def _read(file: Any) -> bool:
    """Read the uploaded ``file`` into the session (or note why not); False if it was stopped."""
    ss = st.session_state
    ss.pop("own.table_error", None)
    try:
        frame = _parse(file)
        summary = describe_table(frame, HEAD_ROWS)
        # the table counts against this visitor's share and the server's budget while kept
        jobs.keep(frame, decoded_bytes(frame), "this table")
    except JobStopped:
        return False
    except (TableError, HostingConfigError, BudgetRefused) as exc:
        ss["own.table_error"] = f"Could not read **{plain(file.name)}**: {plain(exc, limit=400)}"
        ss[TABLE] = None
        ss["own.read_file"] = file.file_id
        return True
    ss["own.read_file"] = file.file_id
    ss[TABLE] = dict(name=file.name, file_id=file.file_id, frame=frame, summary=summary,
                     id=ss.get("own.table_count", 0) + 1)
    ss["own.table_count"] = ss[TABLE]["id"]
    ss.pop(BUILT, None)                               # the previous table's dataset goes
    for key in [k for k in ss if str(k).startswith("own.w.")]:
        del ss[key]
    label = (summary.label_candidates or [None])[0]
    ss[CHOICES] = dict(label=label, features=_default_features(summary, label), standardize=True, drop=False,
                       auto=ss.get(CHOICES, {}).get("auto", True))
    return True


PARSE_WAIT = 10.0        # seconds an upload waits for a job slot before the visitor is told


def _parse(file: Any) -> Any:
    """The uploaded table, read in a worker process (``parse_job``) under a job slot: its memory
    estimated from the file before parsing and counted against this visitor and the server;
    ``JobStopped`` as soon as this run is interrupted (a click, Stop, a closed tab)."""
    limits = table_limits()
    size = getattr(file, "size", None)
    if isinstance(size, int) and size > limits.max_bytes:
        read_table(file, limits=limits)                  # refuses it, with the reader's message
    data = file.getvalue()
    plan = parse_job.estimate(data, file.name, limits)
    _check_keep(plan.cells_bytes)
    started = time.monotonic()
    waited = lambda: time.monotonic() - started > PARSE_WAIT          # noqa: E731
    with JOBS.slot(Need(1, plan.bytes, jobs.client_id(), "reading this table")) as slot:
        if not slot.acquire(should_stop=jobs.stop_check(waited)):
            if jobs.interrupted():
                raise JobStopped("reading this table")
            raise TableError("the server is busy with other visitors' jobs: upload the table again "
                             "in a moment")
        return parse_job.read_table_isolated(data, file.name, limits, should_stop=jobs.interrupted,
                                             plan=plan)


class _Reserve:
    """Stands for a table not read yet in the budget's ledger."""


def _check_keep(nbytes: int) -> None:
    """``BudgetRefused`` before parsing when even the least the table will take once read (8
    bytes a cell) could not be kept in this visitor's share or the server's budget."""
    token = _Reserve()
    jobs.keep(token, nbytes, "this table")
    JOBS.release(token)


def _default_features(summary: Any, label: str | None) -> list[str]:
    return [c for c in summary.numeric_columns if c != label]


def _widget(name: str) -> str:
    """The key of choice widget ``name``, its value put back from ``own.choices`` when the widget
    was not drawn in the last run (Streamlit forgets it then; see ``app.keep``)."""
    return restore("own.w." + name, _choices().get(name), resend=False)


def choice(name: str, default: Any) -> Any:
    """Table choice ``name`` (the widget's value when drawn), ``default`` until there is one."""
    return _choices().setdefault(name, default)


def choice_widget(name: str, default: Any) -> str:
    """``_widget`` for a choice drawn elsewhere on the page (the sidebar), ``default`` at first."""
    choice(name, default)
    return _widget(name)


def _on_label() -> None:
    label = st.session_state["own.w.label"]
    summary = st.session_state[TABLE]["summary"]
    st.session_state["own.w.features"] = _default_features(summary, label)


def _table_choices(summary: Any, cfg: RunConfig | None) -> None:
    columns = [c.name for c in summary.columns]
    c = _choices()
    if c.get("label") not in columns:
        c["label"] = None
    left, right = st.columns([2, 1])
    label = left.selectbox("Label column (what to predict)", columns, key=_widget("label"),
                           index=None, placeholder="Pick the label column", on_change=_on_label,
                           help="Classes: text, true/false or whole numbers (2 to 50 classes); "
                                "or a quantity: numbers")
    c["label"] = label
    _task_question(label)
    options = [n for n in summary.numeric_columns if n != label]
    key = _widget("features")
    st.session_state[key] = [f for f in (st.session_state[key] or []) if f in options]
    features = st.multiselect("Feature columns (numeric)", options, key=key,
                              placeholder="Pick at least one feature column")
    _standardize_box(right, cfg)
    text = [n for n in summary.non_numeric_columns if n != label]
    if text:
        shown = ", ".join(plain(n, 40) for n in text[:10]) + (", ..." if len(text) > 10 else "")
        st.caption(f"Left out (not numeric): {shown}.")
    _decimal_note(summary)
    c.update(label=label, features=list(features))


STANDARDIZE_HELP = ("Centre and scale each feature by the training split's mean and standard "
                    "deviation (the model file remembers them)")


def _standardize_box(place: Any, cfg: RunConfig | None) -> None:
    """'Standardise features': the visitor's, or (greyed) as chosen with the training settings."""
    if _standardize() is not None:
        place.checkbox("Standardise features", key=_widget("standardize"), help=STANDARDIZE_HELP)
        return
    data = current(cfg)
    chosen = True if data is None else bool(data.schema["standardize"])
    place.checkbox("Standardise features", value=chosen, disabled=True, key=f"own.standardize_chosen.{chosen}",
                   help=f"{STANDARDIZE_HELP}. Chosen for your table with the training settings (why: "
                        f"below); turn off *Choose them for my table* in the sidebar to choose yourself.")


def _task_question(label: str | None) -> None:
    """Ask whether a numeric label is a class or a quantity when it could be either (2 to 50
    distinct whole numbers); say which it is otherwise."""
    tasks = possible_tasks()
    if label is None:
        return
    if len(tasks) == 1:
        if tasks == ("regression",):
            st.caption(f"**{plain(label, 60)}** holds numbers: the network predicts it as a quantity "
                       f"(regression: one linear output, mean squared error).")
        return
    key = _widget("task")
    if st.session_state.get(key) not in tasks:
        st.session_state[key] = tasks[0]
    st.radio(f"Is **{plain(label, 60)}** a class or a quantity?", tasks, key=key, horizontal=True,
             format_func=TASK_WORDS.get,
             help="Its values are a few whole numbers: they may name classes (a digit, a kind) or "
                  "measure something (a rating, a count). A class: softmax and cross-entropy, "
                  "accuracy. A quantity: one linear output, mean squared error, R² and RMSE.")


def _decimal_note(summary: Any) -> None:
    """Say what happened to numbers written with a decimal comma (5,1): read as such, or left
    out as text, and how to fix the file."""
    if st.session_state[TABLE]["frame"].attrs.get("decimal_comma"):
        st.caption("Numbers written with a decimal comma (5,1) were read as 5.1: the file separates "
                   "its fields with another character.")
    commas = summary.decimal_comma_columns
    if commas:
        shown = ", ".join(plain(n, 40) for n in commas[:5]) + (", ..." if len(commas) > 5 else "")
        st.warning(f"Column{'s' * (len(commas) > 1)} {shown} hold{'s' * (len(commas) == 1)} numbers "
                   f"written with a decimal comma (5,1), which this file's commas cannot tell apart "
                   f"from its separators. Save the table with decimal points (5.1), or with fields "
                   f"separated by semicolons (in Excel: 'CSV (semicolon-separated)'), and upload "
                   f"it again.", icon=":material/info:")


def _table_status(cfg: RunConfig, summary: Any) -> None:
    data, why = _build(cfg)
    if isinstance(why, BadRowsError):               # nothing is dropped until the user says so
        _bad_rows(why)
        return
    if _choices().get("drop"):
        st.checkbox("Drop the rows with missing values or infinities", key=_widget("drop"))
    if data is None:
        if why:
            st.warning(plain(why, limit=500), icon=":material/info:")
        return
    dropped = f" ({data.n_dropped:,} rows with missing values or infinities dropped)" if data.n_dropped else ""
    if data.task == "regression":
        schema = data.schema
        st.success(f"{len(data.y_train):,} training rows and {len(data.y_test):,} test rows (test share "
                   f"{cfg.test_size:g}, in the sidebar){dropped}; {data.n_features} features; a quantity "
                   f"to predict, mean {schema['target_mean']:.4g} and spread {schema['target_scale']:.4g} "
                   f"in the training rows (the network learns it standardised).", icon=":material/check:")
        return
    classes = ", ".join(plain(n, 30) for n in data.class_names[:10]) + (", ..." if data.n_classes > 10 else "")
    st.success(f"{len(data.y_train):,} training rows and {len(data.y_test):,} test rows (test share "
               f"{cfg.test_size:g}, in the sidebar){dropped}; {data.n_features} features; "
               f"{data.n_classes} classes: {classes}.", icon=":material/check:")


def _bad_rows(exc: BadRowsError) -> None:
    lines = []
    for name, (missing, infinite) in exc.counts.items():
        what = " and ".join(f"{n:,} {w}" for n, w in ((missing, "missing"), (infinite, "infinite")) if n)
        lines.append(f"- column **{plain(name, 60)}**: {what}")
    rows = ", ".join(str(r) for r in exc.rows[:10]) + (", ..." if exc.n_rows > len(exc.rows[:10]) else "")
    st.warning(f"{exc.n_rows:,} rows have missing values or infinities in the chosen columns "
               f"(rows {rows}):\n" + "\n".join(lines), icon=":material/warning:")
    st.checkbox(f"Drop these {exc.n_rows:,} rows", key=_widget("drop"),
                help="Nothing is dropped until you tick this")


# --- drawing points ------------------------------------------------------------------------------
def _plane_key() -> str:
    return f"own.plane.{st.session_state.get('own.clicks', 0)}"


def _edited() -> None:
    st.session_state["own.version"] = st.session_state.get("own.version", 0) + 1


def _on_click() -> None:
    ss = st.session_state
    event = ss.get(_plane_key())
    ss["own.clicks"] = ss.get("own.clicks", 0) + 1      # a fresh chart: the selection is cleared
    if event is None or selection(event).get("points") == []:
        return                                          # a click beside the points: nothing picked
    point = clicked_point(event)
    message = ("That click could not be read; nothing changed." if point is None
               else apply_click(_points(), ss.get("own.click", 0), *point))
    if message:
        ss["own.points_note"] = message
    else:
        _edited()


def _start_over() -> None:
    start = st.session_state.get("own.start", "empty")
    points = Points(POINT_CLASSES)
    if start in TOY_DATASETS:
        toy = Points.from_toy(start, n_points=200, noise=0.15 if start == "moons" else 0.08)
        points = Points(POINT_CLASSES, toy.to_records())
    st.session_state[POINTS] = points
    _edited()


def _points_panel(cfg: RunConfig | None, s: TrainSession) -> None:
    """The plane and its controls: a fragment, so a click reruns them only (about 0.1 s, not the
    whole page); while a run trains, a plain part of the page (a click reruns the page, and the
    run goes on training in it, as everywhere else)."""
    st.session_state[PAGE_VIEW] = _page_view(cfg, s)     # what the rest of this run's page shows
    (_points_part if s.running else _points_fragment)(cfg, s)


PAGE_VIEW = "own.page_view"


def _page_view(cfg: RunConfig | None, s: TrainSession) -> tuple:
    """What the page outside the plane shows of the points: which ``Points`` object, whether
    they can be trained on and with how many classes (the Train button, the parameter count),
    and whether they differ from the model's (Continue, the warning)."""
    data = current(cfg)
    return id(_points()), None if data is None else data.n_classes, bool(changed(s, cfg))


def _points_part(cfg: RunConfig | None, s: TrainSession) -> None:
    if st.session_state.get(PAGE_VIEW) != _page_view(cfg, s):
        st.rerun()                                      # an edit the rest of the page must see
    st.subheader("Draw points")
    points = _points()
    if not len(points):
        _link_note("points")
    c1, c2, c3 = st.columns([3, 2, 1.3], vertical_alignment="bottom")
    c1.radio("A click", [*range(POINT_CLASSES), "remove"], key="own.click", horizontal=True,
             format_func=lambda m: "removes a point" if m == "remove" else f"adds class {m}")
    c2.selectbox("Start from", list(START_LABELS), key="own.start",
                 format_func=START_LABELS.get)
    c3.button("Start over", key="own.restart", on_click=_start_over, icon=":material/restart_alt:",
              width="stretch")
    model = s.model if s.model is not None and s.cfg.dataset == "points" else None
    fig = plane_figure(points.X, points.y, POINT_CLASSES,
                       plane_proba(model) if model is not None and not s.running else None)
    st.plotly_chart(fig, key=_plane_key(), on_select=_on_click, selection_mode="points",
                    width="stretch", config={"displayModeBar": False})
    if "own.points_note" in st.session_state:
        st.warning(plain(st.session_state.pop("own.points_note")))
    counts = ", ".join(f"class {k}: {n}" for k, n in enumerate(points.counts()) if n)
    problem = points.problem()
    st.caption(f"{len(points)} point{'s' * (len(points) != 1)} ({counts or 'none yet'}). "
               + (plain(problem[:1].upper() + problem[1:]) + "." if problem else "Ready: press **Train**.")
               + (" The shaded regions are the current model's prediction." if model is not None else ""))
    st.download_button("Download the points (.csv)", points.to_csv(), file_name="points.csv",
                       mime="text/csv", key="own.dl_points", on_click="ignore",
                       disabled=not len(points), icon=":material/download:")


_points_fragment = st.fragment(_points_part)


def download_dataset(data: Dataset | None) -> None:
    """'Download dataset (.csv)' in the sidebar: any dataset, the generated moons too."""
    cells = 0 if data is None else data.n_features * (len(data.y_train) + len(data.y_test))
    too_big = cells > MAX_CSV_CELLS
    name = re.sub(r"\.(csv|tsv|txt|tab|parquet|pq)$", "", data.name if data is not None else "data")
    with st.sidebar:
        st.download_button("Download dataset (.csv)", _csv_maker(data) if data is not None and not too_big else b"",
                           file_name=f"{name}.csv", mime="text/csv", key="own.dl_data",
                           on_click="ignore", disabled=data is None or too_big, width="stretch",
                           icon=":material/dataset:",
                           help=("too large to offer as CSV (use the original files)" if too_big else
                                 "features in their own units, the label and the split (train/test)"))


def _csv_maker(data: Dataset) -> Callable[[], bytes]:
    """Makes the CSV when the button is pressed. The drawn points are read then, not now: a
    click on the plane reruns only the plane, so ``data`` may be some points behind."""
    built = st.session_state.get(BUILT, {}).get("points")
    if built is None or built[1] is not data:
        return lambda: dataset_to_csv(data)
    points, test_size = _points(), built[0][1]
    return lambda: dataset_to_csv(points.to_dataset(test_size=test_size, seed=TABLE_SPLIT_SEED))
