"""Forged drawings (issue 9, item 4): the board's PNG is checked before it is decoded. An image
that is not 280x280, or too big, or holding compressed extras, is refused with a message; the
page keeps the previous drawing. The 13000x13000 image of the issue is refused in a child
process whose peak RSS must stay under 200 MB above its baseline."""
from __future__ import annotations

import base64
import importlib
import io
import json
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_app_draw import canvas, draw_page, one, png_url  # noqa: F401  (canvas is a fixture)

import nn.views.draw
from nn.views.draw import (MAX_DRAWING_PNG_BYTES, DrawingRejected, canvas_png_url, decode_drawing,
                           drawing_json_problem, png_dimensions)

ROOT = Path(__file__).resolve().parents[1]
RSS_LIMIT_MB = 200


# --- forged PNGs ---------------------------------------------------------------------------------
def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def ihdr(width: int, height: int) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))   # 8-bit RGBA


def black_png(width: int, height: int) -> bytes:
    """A genuine all-black RGBA PNG of any size (a 13000x13000 one is 676 MB decoded and well
    under 1 MB on the wire). Its pixel rows, filter bytes included, are all zeros: the zlib stream
    is one 16 MB block of zeros compressed once (full flush: byte-aligned, no back-references),
    repeated, then the rest and the checksum of the whole."""
    raw, block = (1 + 4 * width) * height, bytes(16 << 20)
    z = zlib.compressobj(9)
    parts = [z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)]              # with the zlib header
    repeat = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(raw, len(block))
    if blocks == 0:
        z, parts, repeat = zlib.compressobj(9), [], b""
    parts += [repeat] * (blocks - 1)
    parts.append((z.compress(bytes(rest)) + z.flush())[:-4])            # its checksum is partial
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(block, adler)
    parts.append(struct.pack(">I", zlib.adler32(bytes(rest), adler)))
    idat = b"".join(parts)
    assert blocks > 2 or zlib.decompress(idat) == bytes(raw)
    return nn.views.draw.PNG_SIGNATURE + ihdr(width, height) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def header_forgery(width: int, height: int) -> bytes:
    """A real small PNG whose IHDR now claims width x height (CRC fixed): a few hundred bytes."""
    buf = io.BytesIO()
    Image.new("RGBA", (16, 16)).save(buf, format="PNG")
    png = buf.getvalue()
    return png[:8] + ihdr(width, height) + png[8 + 25:]


def url_of(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def board_png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


class _PillowWithoutOpen:
    """PIL.Image as nn.views.draw sees it, except that opening (decoding) an image fails the test."""

    def __getattr__(self, name):
        if name == "open":
            raise AssertionError("the forged image was decoded")
        return getattr(Image, name)


@pytest.fixture()
def no_decoding(monkeypatch):
    """Fail the test if nn.views.draw hands the PNG to Pillow."""
    monkeypatch.setattr(nn.views.draw, "Image", _PillowWithoutOpen())


# --- nn.views.draw: the check ------------------------------------------------------------------------
def test_a_board_drawing_is_decoded_as_sent():
    image = one()
    decoded = decode_drawing(url_of(board_png(image)))
    assert decoded.shape == (280, 280, 4) and decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, image)
    assert png_dimensions(board_png(image)[:24]) == (280, 280)


def test_a_header_claiming_13000x13000_is_refused_without_decoding(no_decoding):
    png = header_forgery(13000, 13000)
    assert len(png) < 1024
    with pytest.raises(DrawingRejected, match="it is 13000x13000 pixels; the board is 280x280"):
        decode_drawing(url_of(png))


@pytest.mark.parametrize("size", [(281, 280), (280, 1), (28, 28), (560, 560)])
def test_any_other_size_is_refused_without_decoding(no_decoding, size):
    with pytest.raises(DrawingRejected, match=f"it is {size[0]}x{size[1]} pixels"):
        decode_drawing(url_of(black_png(*size)))


def test_a_real_13000x13000_png_is_refused_in_bounded_memory(tmp_path):
    """The issue's attack, genuine (decodable, 676 MB of pixels), and a smaller genuine one that
    passes the size bound and is refused by its header: neither is decoded."""
    files = {"big": black_png(13000, 13000), "small": black_png(4000, 4000)}
    assert len(files["big"]) < 1 << 20 and len(files["small"]) < MAX_DRAWING_PNG_BYTES
    for name, png in files.items():
        (tmp_path / name).write_text(url_of(png))
    code = textwrap.dedent(f"""
        import json, resource
        from pathlib import Path
        from nn.views.draw import DrawingRejected, decode_drawing
        urls = {{name: (Path({str(tmp_path)!r}) / name).read_text() for name in ("big", "small")}}
        base = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
        messages = {{}}
        for name, url in urls.items():
            try:
                decode_drawing(url)
                messages[name] = None
            except DrawingRejected as exc:
                messages[name] = str(exc)
        peak = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
        print(json.dumps({{"messages": messages, "mb": (peak - base) / 1024}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "a drawing on this board is at most 512 KB" in result["messages"]["big"]
    assert result["messages"]["small"] == "it is 4000x4000 pixels; the board is 280x280"
    assert result["mb"] < RSS_LIMIT_MB


def test_an_oversized_or_padded_png_is_refused_before_decoding(no_decoding):
    png = board_png(one())
    padded = png[:33] + chunk(b"tEXt", b"pad\x00" + bytes(MAX_DRAWING_PNG_BYTES)) + png[33:]
    with pytest.raises(DrawingRejected, match="at most 512 KB"):
        decode_drawing(url_of(padded))
    with pytest.raises(DrawingRejected, match="at most 512 KB"):
        decode_drawing("data:image/png;base64," + "A" * (50 << 20))


def test_compressed_text_chunks_are_refused(no_decoding):
    png = board_png(one())
    bomb = chunk(b"zTXt", b"note\x00\x00" + zlib.compress(bytes(50 << 20), 9))
    with pytest.raises(DrawingRejected, match="compressed zTXt chunk"):
        decode_drawing(url_of(png[:33] + bomb + png[33:]))


@pytest.mark.parametrize("url", [
    None, 42, "", "data:image/jpeg;base64,/9j/4AAQ", "data:image/png;base64,not*base64",
    "data:image/png;base64," + base64.b64encode(b"GIF89a" + bytes(40)).decode(),
])
def test_what_is_not_a_png_is_refused(no_decoding, url):
    with pytest.raises(DrawingRejected):
        decode_drawing(url)


def test_a_png_that_lies_after_its_header_is_refused():
    png = board_png(one())
    broken = png[:40] + b"\x00" * 64 + png[104:]                   # damaged IDAT
    with pytest.raises(DrawingRejected, match="not a readable PNG"):
        decode_drawing(url_of(broken))


def test_the_canvas_result_keeps_the_url_where_we_read_it(monkeypatch):
    """streamlit-drawable-canvas 0.13: the URL is in ``_image_data_url`` (an upgrade that moves
    it must fail here, not silently decode unchecked images). The real module is imported with
    its component registration stubbed (it needs a running Streamlit server)."""
    import streamlit.components.v2 as components_v2
    monkeypatch.setattr(components_v2, "component", lambda *args, **kwargs: None)
    monkeypatch.delitem(sys.modules, "streamlit_drawable_canvas", raising=False)
    module = importlib.import_module("streamlit_drawable_canvas")
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)   # dropped afterwards
    CanvasResult = module.CanvasResult
    url = url_of(board_png(one()))
    assert canvas_png_url(CanvasResult({"objects": []}, url, True)) == url
    assert canvas_png_url(CanvasResult(None, None, True)) is None


def test_a_huge_stroke_description_is_refused():
    assert drawing_json_problem({"objects": [{"type": "Path"}]}) is None
    huge = {"objects": [{"type": "Path", "path": [["L", 1.5, 2.5]] * 200_000}]}
    assert "at most 2 MB" in drawing_json_problem(huge)


# --- the page ------------------------------------------------------------------------------------
def test_the_page_refuses_a_forged_drawing_and_keeps_the_previous_one(canvas, monkeypatch):
    canvas.image = one()
    at = draw_page()
    assert at.metric[0].value == "1"
    kept = at.session_state["draw_last"]["image"]
    canvas.url = url_of(header_forgery(13000, 13000))
    monkeypatch.setattr(nn.views.draw, "Image", _PillowWithoutOpen())
    at.slider(key="draw_stroke").set_value(24).run()                 # any rerun reads the board
    assert not at.exception
    assert any("This drawing was not read: it is 13000x13000 pixels" in w.value for w in at.warning)
    assert at.metric[0].value == "1"                                 # the previous drawing, read
    assert at.session_state["draw_last"]["image"] is kept


def test_the_page_refuses_a_huge_description(canvas):
    canvas.image = one()
    at = draw_page()
    canvas.json = {"objects": [{"type": "Path", "path": [["L", 1.5, 2.5]] * 200_000}]}
    canvas.image = np.zeros((280, 280, 4), np.uint8)
    at.slider(key="draw_stroke").set_value(24).run()
    assert not at.exception
    assert any("its description is" in w.value for w in at.warning)
    assert at.metric[0].value == "1"

