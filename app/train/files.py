"""The Train page's model files (download the model and its history, upload a model saved
earlier) and its messages."""
from __future__ import annotations

import streamlit as st

import nn
from app import jobs, uploads
from app.text import plain
from app.train.current import (PAGE_ERROR, W, current_config, dataset, keep_model, model_bytes, session,
                               set_config)
from app.train.session import TrainSession
from app.train.state import history_csv, layers_text, upload_config
from nn.core.settings import ConfigError
from nn.data import DatasetUnavailable
from nn.files.io import model_to_bytes
from nn.hosting import limits
from nn.runs.slots import JOBS, BudgetRefused, Need

UPLOAD_ERROR = "train_upload_error"


def _on_upload() -> None:
    file = st.session_state.get(W + "upload")
    if not hasattr(file, "getvalue"):            # None, or a file Streamlit no longer holds
        return
    blob = file.getvalue()
    uploads.release(file)                        # read once: Streamlit's copy is let go
    try:
        model = nn.load(blob)
        cfg, switched = upload_config(model, current_config())   # the model's own dataset and settings
        data = dataset(cfg)
        JOBS.check(Need(0, model_bytes(model), jobs.client_id(), "this model"))
        session().adopt(model, cfg, data)        # checks all first: on error nothing changes
        keep_model(session())
        if switched:
            session().notice = f"{switched} {session().notice}"
    except Exception as exc:                     # whatever the file does, the session's model stays
        st.session_state[UPLOAD_ERROR] = f"Could not use **{plain(file.name)}**: {_reason(exc)}"
        return
    set_config(cfg)


def _reason(exc: Exception) -> str:
    """Why an upload was refused, as plain text (never NumPy's advice to allow pickles)."""
    known = (nn.ModelFormatError, ConfigError, ValueError, DatasetUnavailable, BudgetRefused)
    text = str(exc) if isinstance(exc, known) else ""
    if not text or "pickle" in text:
        text = f"it is not a model file this app can read ({type(exc).__name__})"
    return plain(text, limit=300)


def files(s: TrainSession) -> None:
    with st.sidebar:
        st.subheader("Model files")
        model, history = s.model, s.history
        name = f"{s.cfg.dataset}-{layers_text(model)}" if model is not None else "model"
        st.download_button("Download model (.npz)", (lambda: model_to_bytes(model)) if model else b"",
                           file_name=f"{name}.npz", mime="application/octet-stream", key="train.dl_model",
                           on_click="ignore", disabled=model is None, width="stretch", icon=":material/download:")
        st.download_button("Download history (.csv)", (lambda: history_csv(history)) if history else "",
                           file_name=f"{name}-history.csv", mime="text/csv", key="train.dl_history",
                           on_click="ignore", disabled=not history, width="stretch", icon=":material/table:")
        st.file_uploader("Upload a model saved earlier (.npz)", type=["npz"], key=W + "upload",
                         on_change=_on_upload, max_upload_size=limits().max_model_mb,
                         help=uploads.BUSY_HELP)


def messages(s: TrainSession, problems: list[str]) -> None:
    for text in problems:
        st.warning(text)
    for key in (PAGE_ERROR, UPLOAD_ERROR):
        if key in st.session_state:
            st.error(st.session_state.pop(key))
    if s.notice:
        st.info(s.notice)
    if s.error:
        st.error(s.error, icon=":material/warning:")
