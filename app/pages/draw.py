"""Draw a digit: the network reads what the user draws on the board, each time a stroke ends.
The page's logic is ``app.draw.logic`` (no Streamlit); its parts are in ``app.draw``."""
import streamlit as st

from app.draw import board, inside, models
from nn.core import Sequential

board.enter_page()
st.title("✏️ Draw a digit")
st.caption("Draw one digit, large enough to fill most of the board. The network reads it each "
           "time you lift the button.", help="The drawing is cropped to the ink, fitted into 20x20 "
           "pixels and centred by its centre of mass in 28x28, the way MNIST was made (a small "
           "digit drawn with a thick pen reads as a bold one).")
top = st.container()        # one block whatever it holds: the board below is never remounted
left, right = st.columns([1.2, 2.2])
bottom = st.container()
with top:
    model = models.choose_model(below=bottom)
with left:
    drawing, reading = board.board_column(model)
with right:
    board.show_prediction(reading)
    inside.drawing_inside(model, drawing)   # each layer's activations, the units that pushed most
    if isinstance(model, Sequential):
        st.caption("Looking inside covers fully connected networks (MLPs): choose **Shipped MLP** "
                   "(or an MLP of yours) above to see each layer's activations for the drawing.")
