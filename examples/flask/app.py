"""A Flask app for lambda-adapter: a JSON API route and a binary PNG route (buffered mode)."""

import os
import struct
import zlib

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(message="Hello from Flask on Lambda", path=request.path)


@app.get("/items/<int:item_id>")
def item(item_id: int):
    # Query parameters and headers arrive exactly as API Gateway / Function URLs received them.
    return jsonify(id=item_id, q=request.args.get("q"), user_agent=request.headers.get("User-Agent"))


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG built with the standard library (no Pillow needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")


@app.get("/image.png")
def image():
    # A binary content type: the adapter sends it to Lambda base64-encoded (isBase64Encoded: true).
    return Response(png(16, 16, (255, 153, 0)), mimetype="image/png")


@app.get("/healthz")
def healthz():
    return "ok"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
