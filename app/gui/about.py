"""The About box text: versions, the device in use, model credits and licences.

The model list is read from the catalogue and the store, not by loading each model (as
`photomend info` does to check them): About must open at once and not pull hundreds of
megabytes of weights into memory.
"""

from __future__ import annotations

import html

from app import __version__
from app.versions import version_lines


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def model_credits() -> list[str]:
    """One HTML line per credit: catalogue models sharing a credit are named together."""
    from models.catalogue import CATALOGUE
    from models.install import licence_text
    from models.store import imported_models, is_installed

    groups: dict[tuple[str, str], list[str]] = {}
    for entry in CATALOGUE:
        state = "built in" if entry.builtin else "installed" if is_installed(entry) else f"download, {entry.size_text}"
        groups.setdefault((entry.credit, entry.licence), []).append(f"{entry.title} ({state})")
    lines = [f"<b>{_escape(', '.join(titles))}</b> — {_escape(licence)}. {_escape(credit)}."
             for (credit, licence), titles in groups.items()]
    for model in imported_models().values():
        lines.append(f"<b>{_escape(model.name)}</b> (imported {_escape(model.architecture)}) — "
                     f"{_escape(licence_text(model.licence))}. From {_escape(model.imported_from)}.")
    return lines


def about_text(device: str) -> str:
    body = "<br>".join(_escape(line).replace("  ", "&nbsp;&nbsp;") for line in version_lines())
    models = "".join(f"<li>{line}</li>" for line in model_credits())
    return (
        f"<h3>Photomend {__version__}</h3>"
        "<p>Desktop photo restorer: deep-learning denoising and deblurring. MIT licence.</p>"
        f"<p><b>Device in use:</b> {_escape(device)}</p>"
        f"<p style='font-family: monospace; font-size: small'>{body}</p>"
        "<p><b>Models</b> (credit and licence of the weights):</p>"
        f"<ul style='font-size: small; margin-left: -20px'>{models}</ul>"
        "<p><b>Credits.</b> Deep-prior deblurring follows DPIR (Zhang et al., TPAMI 2021). Sample photo: NASA "
        "(public domain). Built with Qt for Python (LGPLv3), PyTorch (BSD), spandrel (MIT), OpenCV (Apache-2.0), "
        "NumPy (BSD), Pillow (MIT-CMU).</p>"
    )
