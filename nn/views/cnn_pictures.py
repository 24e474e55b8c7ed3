"""Still pictures (Pillow) of a convolutional network: its first layer's filters and, for one
image, each conv layer's feature maps. Plain arrays in, an RGB ``uint8`` array out, a few
milliseconds each, like ``nn.views.pictures`` (the Train page redraws them live while a CNN trains)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from nn.core import BatchNorm, Conv2D, Sequential
from nn.core.layers import ACTIVATION_LAYERS
from nn.views.pictures import INK, font

NEGATIVE, POSITIVE = np.array([59, 111, 182], float), np.array([214, 69, 61], float)   # blue, red
BACKGROUND = (255, 255, 255)
GAP = 4
MAX_MAPS = 32                        # feature maps shown per conv layer


def conv_layers(model: object) -> list[int]:
    """Indices of the conv layers of ``model`` (empty for anything but a ``Sequential``)."""
    if not isinstance(model, Sequential):
        return []
    return [i for i, layer in enumerate(model.layers) if isinstance(layer, Conv2D)]


def diverging(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] as RGB: blue for negative, white for 0, red for positive."""
    v = np.clip(values, -1, 1)[..., None]
    white = np.full(3, 255.0)
    rgb = np.where(v < 0, white + (white - NEGATIVE) * v, white - (white - POSITIVE) * v)
    return rgb.astype(np.uint8)


def _tiles(tiles: list[np.ndarray], per_row: int, scale: int,
           gap_color: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """RGB tiles (same size) in rows of ``per_row``, each pixel scale x scale, GAP apart."""
    h, w = tiles[0].shape[:2]
    th, tw = h * scale, w * scale
    rows = -(-len(tiles) // per_row)
    sheet = Image.new("RGB", (per_row * (tw + GAP) - GAP, rows * (th + GAP) - GAP), gap_color)
    for k, tile in enumerate(tiles):
        big = np.kron(tile, np.ones((scale, scale, 1), np.uint8))
        sheet.paste(Image.fromarray(big), ((k % per_row) * (tw + GAP), (k // per_row) * (th + GAP)))
    return sheet


def _titled(title: str, body: Image.Image, width: int) -> Image.Image:
    out = Image.new("RGB", (max(width, body.width), body.height + 22), BACKGROUND)
    ImageDraw.Draw(out).text((0, 2), title, fill=INK, font=font(13))
    out.paste(body, (0, 22))
    return out


def filters_image(model: Sequential, width: int = 560) -> np.ndarray:
    """The first conv layer's filters (averaged over input channels), each scaled by its own
    largest weight: red positive, blue negative, as the image patterns each filter responds to."""
    index = conv_layers(model)[0]
    W = model.layers[index].params[0].astype(np.float64).mean(axis=1)       # (F, kh, kw)
    scale_each = np.abs(W).max(axis=(1, 2), keepdims=True)
    tiles = [diverging(w) for w in W / np.where(scale_each > 0, scale_each, 1)]
    kh, kw = W.shape[1:]
    per_row = min(len(tiles), 8)
    scale = max(2, min(10, (width + GAP) // per_row // (kw + 1)))
    title = f"First conv layer: {len(tiles)} filters {kh}x{kw} (red: positive, blue: negative weights)"
    # grey gaps: a filter's white (zero) weights must not run into its neighbours
    return np.asarray(_titled(title, _tiles(tiles, per_row, scale, gap_color=(120, 120, 120)), width))


def _activated(model: Sequential, index: int, maps: np.ndarray) -> tuple[np.ndarray, str]:
    """A conv layer's maps through the batch norm (at inference: per channel, so before or after
    the pool alike) and the activation that follow it in its block, if any."""
    done = []
    for layer in model.layers[index + 1:]:
        if isinstance(layer, Conv2D):
            break
        if isinstance(layer, BatchNorm) or type(layer) in ACTIVATION_LAYERS.values():
            out, _ = layer.forward(maps.transpose(1, 2, 0)[None], train=False)
            maps = out[0].transpose(2, 0, 1)
            done.append("batch norm" if isinstance(layer, BatchNorm) else layer.kind)
            if not isinstance(layer, BatchNorm):
                break
    return maps, f"after {' and '.join(done)}" if done else "before any activation"


def feature_maps_image(model: Sequential, x: np.ndarray, image_shape: tuple[int, int],
                       width: int = 560) -> np.ndarray:
    """For one input row ``x``: the image, then each conv layer's feature maps (after its
    activation; at most MAX_MAPS per layer), each map scaled to its own range (dark: low)."""
    outputs = dict(model.feature_maps(x))
    image = np.clip(np.asarray(x, float).reshape(image_shape), 0, 1)
    parts = [_titled("Test image", _tiles([_gray(image)], 1, max(1, 84 // image_shape[1])), width)]
    for n, index in enumerate(conv_layers(model), start=1):
        maps, how = _activated(model, index, outputs[index])
        shown = maps[:MAX_MAPS]
        h, w = shown.shape[1:]
        per_row = min(len(shown), 8 if w >= 12 else 16)     # big maps: fewer a row, larger
        scale = max(1, min(4, (width + GAP) // per_row // (w + 1)))
        tiles = [_gray(_unit(m)) for m in shown]
        more = f", first {len(shown)} of {len(maps)}" if len(maps) > len(shown) else ""
        title = f"Conv layer {n}: {len(maps)} feature maps {h}x{w} ({how}{more})"
        parts.append(_titled(title, _tiles(tiles, per_row, scale), width))
    total = Image.new("RGB", (max(p.width for p in parts), sum(p.height + 8 for p in parts)), BACKGROUND)
    top = 0
    for part in parts:
        total.paste(part, (0, top))
        top += part.height + 8
    return np.asarray(total)


def _unit(m: np.ndarray) -> np.ndarray:
    lo, hi = float(m.min()), float(m.max())
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m, dtype=float)


def _gray(values: np.ndarray) -> np.ndarray:
    """[0, 1] values as RGB: dark low, light high (MNIST's white ink on black)."""
    g = (np.clip(values, 0, 1) * 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


__all__ = ["conv_layers", "filters_image", "feature_maps_image", "diverging"]
