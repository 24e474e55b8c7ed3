"""Streamlit entry point: `streamlit run dashboard.py`. Each page lives in app/pages/ (its logic in app/<page>/)."""
import os

import streamlit as st
from streamlit.errors import FragmentHandledException
from streamlit.logger import get_logger

from app import uploads
from nn.hosting import TRUE_WORDS
from nn.hosting.isolated import SPARES
from nn.hosting.shared_arrays import serve_workers

log = get_logger("nn.dashboard")
public = os.environ.get("NN_PUBLIC", "").strip().lower() in TRUE_WORDS
if public:
    # No traceback, exception type or message ever reaches a visitor: what escapes the guard
    # below (a widget's callback runs before this script) gets Streamlit's generic notice, and
    # the details go to the server's log. Process-wide, read when an error is shown.
    st.set_option("client.showErrorDetails", "none")

# The tab's icon is an emoji, drawn by the browser: a Material icon here is fetched from Google's
# font server, which an offline laptop (MNIST_PATH) cannot reach.
st.set_page_config(page_title="NumPy network dashboard", page_icon="🧠", layout="wide")

# Streamlit's animated "running" badge repaints the page many times a second for as long as a
# script runs; during training that steals CPU from training itself (measured: about half of the
# app's overhead in headless Chromium on 2 cores). The Train page shows its own progress bar.
st.html("<style>[data-testid='stStatusWidget']{display:none}</style>")

serve_workers()               # datasets in shared memory: workers map them (nn.hosting.shared_arrays)
SPARES.warm()                 # a worker process ready for the first run (see nn.hosting.isolated)
uploads.guard()               # uploads: a quota, and those no page reads are dropped (app.uploads)

pages = [
    st.Page("app/pages/train.py", title="Train", icon=":material/monitoring:", default=True),
    st.Page("app/pages/draw.py", title="Draw a digit", icon=":material/draw:"),
    st.Page("app/pages/sweep.py", title="Sweep", icon=":material/tune:"),
]
try:
    st.navigation(pages).run()
except FragmentHandledException:      # a fragment's error, already shown (redacted) by Streamlit
    raise
except Exception:                     # st.rerun/st.stop are BaseExceptions: they pass untouched
    if not public:
        raise                         # on one's own machine: Streamlit shows the details
    log.exception("A page failed for a visitor")
    st.error("Something went wrong on this page; the details are in the server's log. Reload the "
             "page or try again.", icon=":material/error:")
    st.stop()                         # an early stop: the widgets not drawn keep their values
