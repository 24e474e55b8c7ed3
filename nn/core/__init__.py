"""The network core: layers as objects (forward and backward side by side), ``Sequential``, and
architectures as text or JSON-able specs."""
from nn.core.arch import (CNN_PRESETS, ArchError, arch_cost, build_network, describe_arch,
                          flops_per_sample, from_spec, network_from_arrays, param_arrays, parse_arch,
                          plan_spec, spec_param_shapes, summary)
from nn.core.layers import (BatchNorm, Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D, ReLU, Sigmoid,
                            Tanh)
from nn.core.sequential import ModelTooLarge, Sequential

__all__ = ["Layer", "Dense", "Conv2D", "MaxPool2D", "Flatten", "ReLU", "Tanh", "Sigmoid", "Dropout",
           "BatchNorm",
           "Sequential", "ModelTooLarge", "ArchError", "CNN_PRESETS", "build_network", "parse_arch",
           "describe_arch", "from_spec", "summary", "flops_per_sample", "param_arrays",
           "network_from_arrays", "arch_cost", "plan_spec", "spec_param_shapes"]
