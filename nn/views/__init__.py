"""What the app shows, built without Streamlit: ``plots`` (Plotly figures), ``pictures`` and
``cnn_pictures`` (still PNGs drawn with Pillow while training runs), ``draw`` (reading the
drawing board) and ``inspect`` (inside the network: neurons, weights, health, backprop step)."""
