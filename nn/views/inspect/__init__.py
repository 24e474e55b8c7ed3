"""Inside the network: what every neuron, weight and gradient is doing (no Streamlit here).

- ``neurons``: every layer's values, hidden neurons over the plane, first-layer weights as images,
  the most active units, a single input's activations and the units that pushed its prediction;
- ``health``: per-layer gradient norms, update/weight ratios, dead ReLUs, saturated units, weight
  histograms, plain-language readings, and ``HealthMonitor`` to follow a Trainer record by record;
- ``backprop``: one minibatch step with every quantity of the tutorials' equations, and a
  neuron's formula with the current numbers;
- ``pictures`` (Pillow, for the live view) and ``figures`` (Plotly, once training stops).
"""
from nn.views.inspect.backprop import BackpropStep, BackpropStepper, neuron_formula, one_step
from nn.views.inspect.health import (HealthMonitor, format_health_line, layer_health, readings,
                                     weight_histograms)
from nn.views.inspect.neurons import (explain_input, first_layer_weight_images, forward,
                                      most_active_units, neuron_maps)

__all__ = ["BackpropStep", "BackpropStepper", "neuron_formula", "one_step", "HealthMonitor",
           "format_health_line", "layer_health", "readings", "weight_histograms", "explain_input",
           "first_layer_weight_images", "forward", "most_active_units", "neuron_maps"]
