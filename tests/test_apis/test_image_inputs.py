"""The demo's local inputs: a file, a folder's images, and errors naming the path.
(URL inputs are tried through the demo, in tests/test_demo/test_image_demo.py.)"""
import re

import pytest

from mmpfcn.apis import ImageInputError, collect_images


def test_a_file_is_itself(tmp_path):
    image = tmp_path / 'photo.jpg'
    image.write_bytes(b'')
    assert collect_images(str(image), str(tmp_path)) == [str(image)]


def test_a_folder_gives_its_images_sorted(tmp_path):
    for name in ('b.png', 'A.JPG', 'notes.txt', 'c.webp'):
        (tmp_path / name).write_bytes(b'')
    (tmp_path / 'sub.png').mkdir()
    assert collect_images(str(tmp_path), str(tmp_path)) == [
        str(tmp_path / name) for name in ('A.JPG', 'b.png', 'c.webp')]


def test_a_folder_without_images_is_an_error(tmp_path):
    (tmp_path / 'notes.txt').write_bytes(b'')
    with pytest.raises(ImageInputError, match=re.escape(f'{tmp_path}: the folder holds no image')):
        collect_images(str(tmp_path), str(tmp_path))


def test_a_missing_path_is_an_error(tmp_path):
    missing = tmp_path / 'nowhere.jpg'
    with pytest.raises(ImageInputError, match=re.escape(f'{missing}: no such file or folder')):
        collect_images(str(missing), str(tmp_path))
