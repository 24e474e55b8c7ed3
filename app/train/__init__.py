"""The Train page's home: its logic without Streamlit (``state``, ``session``) and its Streamlit
side (settings, buttons, files, the live view and the training run, the inside view, own data)."""
