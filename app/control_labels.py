"""Messages from ``nn`` name a setting by its command-line flag, e.g. "noise (--noise) must be in
[0, 2]": right for the CLI, a puzzle on the Train page, where the control reads "Noise". The page
puts the control's label in place of the flag before it shows such a message."""
from __future__ import annotations

import re

import streamlit as st

# flag -> the label of the Train page's control for it (app/train_view.py)
LABELS = {
    "dataset": "Dataset", "n-samples": "Number of samples", "noise": "Noise", "test-size": "Test share",
    "hidden": "Hidden layers", "activation": "Activation", "init": "Initialisation",
    "arch": "Architecture", "augment": "Augment the training images", "optimizer": "Optimizer",
    "momentum": "Momentum", "lr": "Learning rate", "batch-size": "Batch size",
    "lr-schedule": "Learning-rate schedule", "epochs": "Epochs", "seed": "Seed",
    "weight-decay": "Weight decay (L2)", "val-share": "Held-out share", "patience": "Patience (epochs)",
}
# "--n-samples", or as Markdown-escaped by ``plain``: "\-\-n\-samples"
_FLAG = r"\\?-\\?-((?:[a-z]|\\?-)+)"
# "n_samples (--n-samples)" (the setting's name, then its flag) or a flag alone
_NAMED = re.compile(r"(?:\b[a-z][a-z\\_]*\s)?\\?\(" + _FLAG + r"\\?\)|" + _FLAG)
PAGE_MESSAGES = ("train_data_error", "train_upload_error")     # kept for the page in session state
# "Invalid setting **n_samples**: " (the Train page names the setting), then perhaps the label
# ``page_text`` just put in for its flag: "'Number of samples'" with ": " (escaped or not) or " "
_SETTING = re.compile(r"Invalid setting \*\*([a-z_]+)\*\*: (?:'([^'\n]+)'(?:\\?:\u2060?)? )?")


def page_text(text: str) -> str:
    """``text`` with each known flag (and the setting's name before it) replaced by the control's
    label in quotes: "noise (--noise) must be ..." -> "'Noise' must be ..."."""
    def label(m: re.Match) -> str:
        flag = (m.group(1) or m.group(2)).replace("\\", "")
        return f"'{LABELS[flag]}'" if flag in LABELS else m.group(0)

    def setting(m: re.Match) -> str:
        """"Invalid setting **arch**: 'Architecture': item 1 ..." -> "Invalid setting
        **'Architecture'**: item 1 ...": the label once, in place of the setting's name."""
        name = LABELS.get(m.group(1).replace("_", "-"))
        if name is None:
            return m.group(0)
        head = f"Invalid setting **'{name}'**: "
        return head if m.group(2) == name else head + m.group(0)[len(f"Invalid setting **{m.group(1)}**: "):]
    return _SETTING.sub(setting, _NAMED.sub(label, text))


def labels(names: list[str]) -> str:
    """Settings' names as the page labels them: ["lr", "batch_size"] -> "'Learning rate',
    'Batch size'" (a name without a control stays as it is)."""
    return ", ".join(f"'{LABELS[n.replace('_', '-')]}'" if n.replace("_", "-") in LABELS else n
                     for n in names)


def relabel(problems: list[str]) -> list[str]:
    """The Train page's messages (``problems`` and those waiting in session state) in the
    page's words."""
    for key in PAGE_MESSAGES:
        if isinstance(st.session_state.get(key), str):
            st.session_state[key] = page_text(st.session_state[key])
    return [page_text(p) for p in problems]
