"""A real MJPEG-over-HTTP stream on loopback that can drop out and come back, like an IP camera."""

from __future__ import annotations

import http.server
import socketserver
import threading
import time

import cv2
import numpy as np


class MjpegServer:
    """Serves numbered frames as multipart/x-mixed-replace at ~25 fps on 127.0.0.1."""

    def __init__(self, port: int = 0, size: tuple[int, int] = (160, 120)):
        self.size = size
        self.port = port
        self._stop = threading.Event()
        self._server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> MjpegServer:
        self._stop.clear()
        stop, size = self._stop, self.size

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                index = 0
                try:
                    while not stop.is_set() and index < 25 * 60:
                        image = np.full((size[1], size[0], 3), (index * 5) % 255, np.uint8)
                        jpg = cv2.imencode(".jpg", image)[1].tobytes()
                        head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                        self.wfile.write(head)
                        self.wfile.write(jpg + b"\r\n")
                        index += 1
                        time.sleep(0.04)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Drop every client and stop listening (the camera 'unplugged')."""
        self._stop.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
