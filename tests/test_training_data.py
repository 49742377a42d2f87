"""Dataset discovery, split files, the grouped validation split and the compact cache (no TF needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.errors import DataError
from training.data import build_cache, find_samples, load_cache, read_pair, split_train_val


def _write(folder, stems, image_dir="images", mask_dir="masks", size=(40, 30)):
    (folder / image_dir).mkdir(parents=True)
    (folder / mask_dir).mkdir(parents=True)
    for i, stem in enumerate(stems):
        cv2.imwrite(str(folder / image_dir / f"{stem}.jpg"), np.full((size[1], size[0], 3), 10 * i, np.uint8))
        mask = np.zeros((size[1], size[0]), np.uint8)
        mask[5:15, 5:20] = 200  # above 127: polyp
        mask[20:25, 5:20] = 100  # below 127: background
        cv2.imwrite(str(folder / mask_dir / f"{stem}.png"), mask)
    return folder


def test_split_files_and_missing_split(tmp_path):
    ds = _write(tmp_path / "set", ["a", "b", "c"])
    (ds / "train.txt").write_text("a\nb\n")
    (ds / "test.txt").write_text("c\n")
    assert [s.stem for s in find_samples(ds, "train")] == ["a", "b"]
    assert [s.stem for s in find_samples(ds, "test")] == ["c"]
    assert len(find_samples(ds, "all")) == 3
    (ds / "test.txt").unlink()
    assert len(find_samples(ds, "test")) == 3  # no split file: an all-test set (like ColonDB)


def test_pranet_layout_and_mask_threshold(tmp_path):
    ds = _write(tmp_path / "TrainDataset", ["x1", "x2"], image_dir="image", mask_dir="mask")
    samples = find_samples(ds)
    image, mask = read_pair(samples[0])
    assert image.shape == (30, 40, 3) and set(np.unique(mask)) == {0, 1}
    assert mask[10, 10] == 1 and mask[22, 10] == 0


def test_bad_folders_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        find_samples(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="images/"):
        find_samples(tmp_path / "empty")
    ds = _write(tmp_path / "set", ["a"])
    (ds / "train.txt").write_text("a\nzzz\n")
    with pytest.raises(DataError, match="missing"):
        find_samples(ds, "train")


def test_validation_split_keeps_sequences_whole(tmp_path):
    ds = _write(tmp_path / "clinic", [str(i) for i in range(1, 21)])
    (ds / "train.txt").write_text("\n".join(str(i) for i in range(1, 21)))
    (ds / "sequences.csv").write_text("frame,sequence\n" + "".join(f"{i},{(i - 1) // 5}\n" for i in range(1, 21)))
    samples = find_samples(ds, "train")
    train, val = split_train_val(samples, 0.2, seed=0)
    assert sorted(train + val) == list(range(20)) and len(val) == 5
    assert len({samples[i].group for i in val}) == 1
    assert not {samples[i].group for i in val} & {samples[i].group for i in train}


def test_cache_round_trip(tmp_path):
    ds = _write(tmp_path / "root" / "set", ["a", "b", "c", "d"])
    (ds / "train.txt").write_text("a\nb\nc\nd\n")
    path = build_cache(tmp_path / "root", ["set"], tmp_path / "c.npz", 32, 0.25, seed=1)
    cache = load_cache(path)
    assert cache.images.shape == (4, 32, 32, 3) and cache.masks.shape == (4, 32, 32)
    assert cache.is_val.sum() == 1 and list(cache.names) == ["set/a", "set/b", "set/c", "set/d"]
    assert cache.meta == {"size": 32, "seed": 1, "val_fraction": 0.25}
    assert cache.masks.max() == 255 and cache.masks[:, 0, 0].max() == 0
