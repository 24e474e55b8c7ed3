"""The Sweep page's home: its form's logic (``form``, no Streamlit) and its Streamlit side."""
