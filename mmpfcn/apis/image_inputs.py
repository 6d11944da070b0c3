"""The images a demo runs on: a file, the images of a folder, or an http(s) URL.

``DetInferencer`` takes paths; a URL is downloaded first into a folder the
caller owns (a temporary one in ``demo/image_demo.py``), under the URL's file
name, so that the outputs are named after it. Every bad input is an
:class:`ImageInputError` naming the path or URL, raised before a model is built.
"""
import os
import os.path as osp
import urllib.request
from typing import List
from urllib.parse import unquote, urlparse

import mmcv
from mmdet.apis.det_inferencer import IMG_EXTENSIONS


class ImageInputError(ValueError):
    """An input is not an image, a folder of images or a URL of an image."""


def fetch_image(url: str, out_dir: str, timeout: float = 30.0) -> str:
    """Download the image at ``url`` into ``out_dir``; return its path.

    The file keeps the URL's file name (``.jpg`` is added where it has no
    image extension, since the overlay is written under that name). A URL
    that cannot be read, or whose content does not decode as an image (an
    HTML page, say), raises :class:`ImageInputError` naming it.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            content = response.read()
            content_type = response.headers.get_content_type()
    except (OSError, ValueError) as error:
        raise ImageInputError(f'{url}: download failed ({error})') from error
    if mmcv.imfrombytes(content) is None:
        raise ImageInputError(f'{url}: not an image (got {len(content)} bytes of {content_type})')
    name = osp.basename(unquote(urlparse(url).path)) or 'image'
    if not name.lower().endswith(IMG_EXTENSIONS):
        name += '.jpg'
    path = osp.join(out_dir, name)
    with open(path, 'wb') as file:
        file.write(content)
    return path


def collect_images(inputs: str, download_dir: str) -> List[str]:
    """The image paths that ``inputs`` stands for.

    Args:
        inputs (str): an image file, a folder (its files with an image
            extension, in any letter case, sorted by name) or an ``http://`` /
            ``https://`` URL (downloaded by :func:`fetch_image`).
        download_dir (str): where a URL's image is stored.

    Returns:
        list[str]: paths of existing files.
    """
    if inputs.startswith(('http://', 'https://')):
        return [fetch_image(inputs, download_dir)]
    if osp.isdir(inputs):
        images = sorted(
            osp.join(inputs, name) for name in os.listdir(inputs)
            if name.lower().endswith(IMG_EXTENSIONS) and osp.isfile(osp.join(inputs, name)))
        if not images:
            raise ImageInputError(f'{inputs}: the folder holds no image '
                                  f'(extensions {", ".join(IMG_EXTENSIONS)})')
        return images
    if not osp.isfile(inputs):
        raise ImageInputError(f'{inputs}: no such file or folder')
    return [inputs]
