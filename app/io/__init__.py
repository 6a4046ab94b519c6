"""Image I/O (Qt-free): read files into `Photo`, write them back atomically with metadata."""

from app.io.naming import default_output_path, extension_for_format, format_from_path
from app.io.photo import Photo
from app.io.reader import DEFAULT_MAX_PIXELS, SUPPORTED_EXTENSIONS, probe_photo, read_photo
from app.io.writer import FORMATS, write_photo

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "SUPPORTED_EXTENSIONS",
    "Photo",
    "default_output_path",
    "extension_for_format",
    "format_from_path",
    "probe_photo",
    "read_photo",
    "write_photo",
]
