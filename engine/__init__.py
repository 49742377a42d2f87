"""LGPS Live engine: capture, inference, ConvCRF, post-processing, overlay, recording. No Qt here."""
