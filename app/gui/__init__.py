"""The Photomend window: the only package that imports Qt."""
