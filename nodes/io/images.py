"""Still images: LoadImage, SampleImage (a photograph shipped with scikit-image) and SaveImage."""

from __future__ import annotations

import json
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from nodes.io.files import (
    draft_filename,
    embedded_workflow,
    filename_check,
    recall_take,
    shot_name,
    sign,
    signing_key,
    strip_paths_wanted,
    take_identity,
    take_params,
    take_still_valid,
    write_take,
)
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType
from studio.takes import TakeWriter

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
MAX_PIXELS = 100_000_000  # a 10k x 10k keyframe is already far past any video model
MAX_IMAGE_BYTES = 2 * 1024**3  # no picture within MAX_PIXELS needs a bigger file
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def to_rgb8(image: np.ndarray, what: str) -> np.ndarray:
    """Any grey/RGB/RGBA, 8- or 16-bit or bool array as (H, W, 3) uint8 RGB."""
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    elif image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise NodeError(f"{what}: unsupported pixel type {image.dtype}; use 8- or 16-bit images")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise NodeError(f"{what}: expected a grey, RGB or RGBA picture, got shape {image.shape}")
    return np.ascontiguousarray(image[..., :3])


def check_image(image: Any, port: str) -> np.ndarray:
    """Raise a clear NodeError unless ``image`` is an (H, W, 3) uint8 picture."""
    if not isinstance(image, np.ndarray):
        raise NodeError(f"'{port}' needs an image, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise NodeError(
            f"'{port}' must be an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
        )
    if min(image.shape[:2]) < 2:
        raise NodeError(f"'{port}' is too small: {image.shape[1]}x{image.shape[0]} px")
    return image


def image_file_problem(path_text: str) -> str | None:
    """Why ``path_text`` cannot be read as a picture, judged without decoding it: a regular
    file, not absurdly large, with at most :data:`MAX_PIXELS` by its header; None if fine."""
    if not path_text:
        return "no image file chosen: set 'path'"
    path = Path(path_text).expanduser()
    try:
        info = path.stat()
    except OSError:
        return f"image file not found: {path}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path.name} is not a regular file (a folder, device or pipe)"
    if info.st_size > MAX_IMAGE_BYTES:
        return f"{path.name} is {info.st_size / 1e9:.1f} GB: far too large for a picture"
    limit = f"at most {MAX_PIXELS // 1_000_000} megapixels are supported"
    try:
        size = image_size(path)
    except ValueError:
        return f"{path.name} is over {MAX_PIXELS // 1_000_000} megapixels by its header; {limit}"
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        return f"{path.name} is {size[0]}x{size[1]} px; {limit}"
    return None


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, without decoding it; None if unknown.
    Raises ValueError for a picture past Pillow's own decompression-bomb limit."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
    except OSError:
        return None
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    from PIL import Image  # reads only the header here

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except Image.DecompressionBombError as error:  # Pillow's own limit is above ours
        raise ValueError(str(error)) from None
    except Exception:  # not a format Pillow knows: OpenCV may still, after the size checks
        return None


def read_image(path_text: str) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, or raise a NodeError saying why not."""
    problem = image_file_problem(path_text)
    if problem:
        raise NodeError(problem)
    path = Path(path_text).expanduser()
    try:
        data = np.fromfile(path, np.uint8)  # imread cannot open non-ASCII paths everywhere
    except OSError as error:
        raise NodeError(f"cannot read {path}: {error}") from None
    # IMREAD_COLOR honours EXIF orientation, so phone photos come in upright.
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise NodeError(f"{path.name} is not an image this build can read ({IMAGE_FILTER})")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise NodeError(
            f"{path.name} is {image.shape[1]}x{image.shape[0]} px; at most "
            f"{MAX_PIXELS // 1_000_000} megapixels are supported"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


SCALE_HELP = (
    "Resize on load: 1 keeps the picture as it is, 0.5 halves each side (draft mode "
    "halves it for you)."
)


def scale_param() -> Param:
    return Param("scale", ParamKind.FLOAT, 1.0, min=0.05, max=1.0, step=0.05, help=SCALE_HELP)


def scaled(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` resized by ``scale`` (area-averaged: no aliasing); 1 returns it as it is."""
    if not 0.05 <= float(scale) <= 1.0:
        raise NodeError(f"scale {scale} must be between 0.05 and 1")
    if scale == 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def draft_scale(params: Mapping[str, Any], settings: Any) -> dict[str, Any]:
    return {"scale": round(float(params["scale"]) * settings.scale, 4)}


def run_load_image(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    ctx.progress(0, 1)
    image = scaled(read_image(params["path"]), params["scale"])
    ctx.info(f"{image.shape[1]}x{image.shape[0]} px")
    ctx.progress(1, 1)
    return {"image": image}


LOAD_IMAGE = NodeSpec(
    type_id="LoadImage",
    title="Load Image",
    category="Input",
    aliases=("open image", "read image", "png", "jpg"),
    tags=("file", "keyframe", "input"),
    version=2,  # 2: scale
    draft=draft_scale,
    draft_help="half the resolution",
    help="Reads a picture file (PNG, JPEG, WebP, BMP, TIFF) as the keyframe or a reference.",
    run=run_load_image,
    check=lambda params, env: list(filter(None, [image_file_problem(params["path"])])),
    outputs=(Port("image", PortType.IMAGE, "The picture, 8-bit RGB."),),
    params=(
        Param(
            "path",
            ParamKind.FILE,
            "",
            file_filter=IMAGE_FILTER,
            reads_file=True,
            help="The image file to read. Re-runs when the file changes.",
        ),
        scale_param(),
    ),
)


# -- SampleImage ---------------------------------------------------------------------------------

# Photographs bundled inside the scikit-image wheel: usable offline, no download.
PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "motorcycle_left",
    "motorcycle_right",
    "hubble_deep_field",
    "camera",
)


def sample_photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled photographs as (H, W, 3) uint8 RGB."""
    if name not in PHOTOS:
        raise NodeError(f"unknown photo {name!r}; choose one of {', '.join(PHOTOS)}")
    from skimage import data  # imported here: scikit-image is slow to import

    if name.startswith("motorcycle_"):
        left, right, _disparity = data.stereo_motorcycle()
        image = left if name == "motorcycle_left" else right
    else:
        image = getattr(data, name)()
    return to_rgb8(np.asarray(image), name)


def run_sample_image(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    ctx.progress(0, 1)
    image = scaled(sample_photo(params["photo"]), params["scale"])
    ctx.progress(1, 1)
    return {"image": image}


SAMPLE_IMAGE = NodeSpec(
    type_id="SampleImage",
    title="Sample Image",
    category="Input",
    aliases=("example image", "test image"),
    tags=("skimage", "photo"),
    version=2,  # 2: scale
    draft=draft_scale,
    draft_help="half the resolution",
    help="A sample photograph that ships with Studio's dependencies: a keyframe to try things on.",
    run=run_sample_image,
    outputs=(Port("image", PortType.IMAGE, "The photograph, 8-bit RGB."),),
    params=(
        Param(
            "photo",
            ParamKind.CHOICE,
            "astronaut",
            choices=PHOTOS,
            help="Which photograph (from scikit-image's bundled test images).",
        ),
        scale_param(),
    ),
)


# -- SaveImage -----------------------------------------------------------------------------------


def run_save_image(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    image = inputs.get("image")
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise NodeError(
            f"'image' must be an (H, W, 3) picture, got {getattr(image, 'shape', image)}"
        )
    image = to_rgb8(image, "image")
    ctx.progress(0, 1)
    shot = shot_name(params["filename"], ".png")
    key = take_identity(ctx, image.tobytes(), image.shape, dict(params), ctx.workflow_json)
    base = Path(ctx.output_dir) / shot
    workflow = embedded_workflow(ctx, shot, key, base, strip=strip_paths_wanted(params))
    credentials = signing_key(params)

    def stage(writer: TakeWriter) -> None:
        _write_png(writer.staged(".png"), image, json.dumps(workflow) if workflow else "")
        if credentials is not None:
            sign(writer.staged(".png"), credentials, f"{shot}.png", workflow)

    result = write_take(ctx, shot, key, workflow, "SaveImage", stage)
    ctx.info(f"saved take {result['take']}: {result['files'][0]}")
    ctx.progress(1, 1)
    return result


def _write_png(path: Path, image: np.ndarray, workflow_json: str) -> None:
    from PIL import Image, PngImagePlugin  # Pillow writes PNG text chunks; OpenCV cannot

    info = PngImagePlugin.PngInfo()
    if workflow_json:
        info.add_itxt("workflow", workflow_json, zip=True)
    Image.fromarray(image).save(path, format="PNG", pnginfo=info)


SAVE_IMAGE = NodeSpec(
    type_id="SaveImage",
    draft=draft_filename,
    draft_help="writes <name>_draft takes",
    title="Save Image",
    category="Output",
    aliases=("write image", "export image", "png"),
    tags=("file", "output"),
    version=2,
    help="Writes each new render as a numbered take, <out>/<name>/<name>_v001.png with a "
    "sidecar .json, never overwriting; the workflow is embedded (PNG text chunk 'workflow').",
    run=run_save_image,
    check=filename_check(".png"),
    inputs=(Port("image", PortType.IMAGE, "The picture to save."),),
    params=(
        Param(
            "filename",
            ParamKind.STRING,
            "image",
            help="The name: takes go to <out>/<name>/<name>_v001.png, _v002, ...",
        ),
        *take_params(),
    ),
    output_node=True,
    still_valid=take_still_valid,
    recall=recall_take,
)
