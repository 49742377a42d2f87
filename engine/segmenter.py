"""Run the LGPS generator with LiteRT and return a polyp probability map.

Input size, dtype and quantisation are read from the .tflite file itself, so float32, int8 and
uint8 exports all work. The model takes RGB pixels in [0, 255] at its square input size and does
its own normalisation (see training/model.py), so preprocessing here is resize + quantise only.
The interpreter must be created and invoked on one thread (the engine thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.errors import ModelError
from engine.native import quiet_native_stderr


@dataclass(frozen=True)
class ModelOutput:
    """The model's view of one frame: its probability map and the resized input it saw."""

    prob: np.ndarray  # SxS float32 polyp probability on the model grid
    image: np.ndarray  # SxSx3 uint8 BGR frame as fed to the model (for the ConvCRF colour kernel)
    content: tuple[int, int, int, int]  # x, y, w, h of the frame inside the grid (letterbox padding)


@dataclass(frozen=True)
class _Quant:
    dtype: np.dtype
    scale: float
    zero_point: int

    def quantise(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels to the input tensor's type; a unit scale (raw pixels) stays in integers."""
        if self.dtype == np.float32:
            return pixels.astype(np.float32)
        if abs(self.scale - 1.0) < 1e-5:
            q = pixels.astype(np.int16) + np.int16(self.zero_point)
        else:
            q = np.rint(pixels.astype(np.float32) / self.scale + self.zero_point)
        info = np.iinfo(self.dtype)
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def dequantise(self, q: np.ndarray) -> np.ndarray:
        if self.dtype == np.float32:
            return q.astype(np.float32, copy=False)
        return (q.astype(np.float32) - self.zero_point) * np.float32(self.scale)


def _quant_of(detail: dict) -> _Quant:
    dtype = np.dtype(detail["dtype"])
    if dtype not in (np.float32, np.int8, np.uint8):
        raise ModelError(f"unsupported tensor type {dtype} in model (need float32, int8 or uint8)")
    scales = detail.get("quantization_parameters", {}).get("scales", np.zeros(0))
    zeros = detail.get("quantization_parameters", {}).get("zero_points", np.zeros(0))
    if dtype != np.float32 and len(scales) != 1:
        raise ModelError("model input/output must be per-tensor quantised")
    scale = float(scales[0]) if len(scales) else 1.0
    zero = int(zeros[0]) if len(zeros) else 0
    return _Quant(dtype, scale, zero)


FIT_ON_ENGINE_PIXELS = 2560 * 1440  # frames this large (4K) are fitted on the engine thread (fit_ahead)


class Segmenter:
    """LGPS inference on CPU with LiteRT (XNNPACK)."""

    def __init__(self, model_path: str | Path, threads: int = 2, input_mode: str = "stretch"):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(model_path)
        self.input_mode = input_mode
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        try:
            with quiet_native_stderr():
                self._interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"not a valid TFLite model: {self.path} ({str(exc).splitlines()[0]})") from None
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            counts = f"{len(inputs)} inputs and {len(outputs)} outputs"
            raise ModelError(f"not an LGPS model: {self.path} has {counts}, expected 1 and 1")
        in_shape = tuple(int(d) for d in inputs[0]["shape"])
        out_shape = tuple(int(d) for d in outputs[0]["shape"])
        if len(in_shape) != 4 or in_shape[0] != 1 or in_shape[3] != 3 or in_shape[1] != in_shape[2]:
            raise ModelError(f"not an LGPS model: input shape {in_shape}, expected (1, S, S, 3)")
        if out_shape[:3] != in_shape[:3] or (len(out_shape) == 4 and out_shape[3] != 1):
            raise ModelError(f"not an LGPS model: output shape {out_shape}, expected (1, S, S, 1)")
        self.input_size = int(in_shape[1])
        self._in_index, self._out_index = inputs[0]["index"], outputs[0]["index"]
        self._in_quant, self._out_quant = _quant_of(inputs[0]), _quant_of(outputs[0])
        self.input_dtype = self._in_quant.dtype.name
        self.name = self.path.stem

    def fit(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """Resize (stretch) or letterbox the frame onto the model's square grid."""
        size = self.input_size
        height, width = frame_bgr.shape[:2]
        shrink = width > size or height > size
        interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        if self.input_mode == "stretch":
            return cv2.resize(frame_bgr, (size, size), interpolation=interp), (0, 0, size, size)
        scale = size / max(width, height)
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        x, y = (size - w) // 2, (size - h) // 2
        canvas = np.zeros((size, size, 3), np.uint8)
        canvas[y : y + h, x : x + w] = cv2.resize(frame_bgr, (w, h), interpolation=interp)
        return canvas, (x, y, w, h)

    def fit_ahead(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
        """`fit` for the capture thread, or None to leave it to the engine thread (large frames).

        Why split by size: the area filter's cost follows the frame (1.7 ms at 720p, 4 ms at 1080p,
        17 ms at 4K here). At 4K the capture thread is saturated by decoding, colour conversion and
        display scaling (22 of 30 fps read with the fit there, 30 of 30 without); up to 1080p the
        engine thread is the busier one (it also draws what is recorded), so the capture thread
        fits ahead (1080p60 recording: 98.4 % of the frames read analysed this way, 96.8 % the other).
        """
        height, width = frame_bgr.shape[:2]
        if width * height >= FIT_ON_ENGINE_PIXELS:
            return None
        return self.fit(frame_bgr)

    def infer(self, frame_bgr: np.ndarray, fitted=None) -> ModelOutput:
        """Run the model on one BGR frame; the result stays on the model's grid.

        `fitted` is `fit(frame_bgr)` computed ahead (the capture thread does it, off the engine's core).
        """
        image, content = fitted if fitted is not None else self.fit(frame_bgr)
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        tensor = self._in_quant.quantise(rgb)
        self._interpreter.set_tensor(self._in_index, tensor[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._out_index)[0]
        prob = self._out_quant.dequantise(raw.reshape(self.input_size, self.input_size))
        return ModelOutput(np.clip(prob, 0.0, 1.0), image, content)

    def invoke_only(self) -> None:
        """Run the model once more on the tensor already set: the model's own cost, for benchmarks."""
        self._interpreter.invoke()

    def to_frame(self, prob: np.ndarray, frame_shape: tuple[int, ...], content=None) -> np.ndarray:
        """Map a grid probability map back to frame size (undoing letterbox padding)."""
        x, y, w, h = content or (0, 0, prob.shape[1], prob.shape[0])
        crop = prob[y : y + h, x : x + w]
        height, width = frame_shape[:2]
        return cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)

    def segment(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Polyp probability (HxW float32 in [0, 1]) at the frame's own size."""
        out = self.infer(frame_bgr)
        return self.to_frame(out.prob, frame_bgr.shape, out.content)
