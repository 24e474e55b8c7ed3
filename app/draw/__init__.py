"""The Draw page's home: its logic (``logic``, no Streamlit) and its Streamlit side."""
