"""Hostile and heavy PDFs built from bytes, for the PDF-check and sandbox tests
and for bench/bench_pdf_aanval.py. Each builder names the attack it is."""

from __future__ import annotations

import io
import os
import random
import struct
import threading
import zipfile
import zlib


def raw_pdf(*objects: bytes, trailer: bytes = b"", tail: bytes = b"") -> bytes:
    """A PDF from object bodies (object 1 is the catalog), with a correct xref;
    ``tail`` is appended after %%EOF."""
    out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return out + tail


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"


def page(extra: bytes = b"") -> bytes:
    return b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] %s>>" % extra


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(data), extra, data)


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("leesmij.exe", b"MZ\x90\x00" + b"\x00" * 200)
    return buf.getvalue()


def objstm_string_bomb(string_mb: int = 60) -> bytes:
    """A ~60 KB PDF whose object stream holds one huge string (issue 10.4):
    pypdf spent 45-76 s and 1.4 GB on it."""
    header = b"4 0 "
    comp = zlib.compress(header + b"(" + b"A" * (string_mb * 2**20) + b")", 9)
    out, offsets = b"%PDF-1.7\n", {}
    for i, body in {1: CATALOG, 2: PAGES, 3: page(b"/Resources << >> /Foo 4 0 R ")}.items():
        offsets[i] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    offsets[5] = len(out)
    out += (b"5 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (len(header), len(comp))) + comp + b"\nendstream\nendobj\n"
    xref = len(out)
    rows = b"\x00\x00\x00\x00\xff" + b"".join(b"\x01" + struct.pack(">I", offsets[i])[1:] + b"\x00" for i in (1, 2, 3))
    rows += b"\x02\x00\x00\x05\x00" + b"\x01" + struct.pack(">I", offsets[5])[1:] + b"\x00"
    rows += b"\x01" + struct.pack(">I", xref)[1:] + b"\x00"
    out += (b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 3 1] /Root 1 0 R /Length %d >>\nstream\n" % len(rows)
            + rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out


def colour_scan(noise_mb: float = 4.0, seed: int = 600) -> bytes:
    """A 600 dpi A4 colour scan (4960 x 7016 RGB, Flate, ~104 MB of pixels):
    a mostly white page with seeded noise; about 4.6 MB in the file."""
    w, h = 4960, 7016
    rnd = random.Random(seed)
    noise = rnd.randbytes(int(noise_mb * 2**20))
    per_row = len(noise) // h
    white = b"\xff" * (w * 3 - per_row)
    rows = bytearray()
    for y in range(h):
        cut = rnd.randrange(len(white))
        rows += white[:cut] + noise[y * per_row:(y + 1) * per_row] + white[cut:]
    image = zlib.compress(bytes(rows), 1)
    content = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
    return raw_pdf(CATALOG, PAGES, page(b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R "),
                   stream(content),
                   stream(image, b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                                 b"/BitsPerComponent 8 /Filter /FlateDecode " % (w, h)))


# -- check functions the sandbox tests run in a worker ("tests.pdf_aanvallen_helpers:...") --
def burn_cpu(data: bytes, max_bytes: int):
    while True:
        pass


def eat_memory(data: bytes, max_bytes: int):
    hog = []
    while True:
        hog.append(bytearray(50 * 2**20))


def crash(data: bytes, max_bytes: int):
    os.abort()


def hang(data: bytes, max_bytes: int):
    threading.Event().wait()
