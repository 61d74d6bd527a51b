"""The twin-supervised trunk of issue 13 (topgan.twinsupervised): it learns to measure what the
crops show, its few-shot classifier folds into one network that topgan export can write, and a
file without the twin's hidden parameters is refused with a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from topgan.data import CellDataset, DataError
from topgan.probe import Standardiser
from topgan.twinsupervised import TARGETS, TwinConfig, fold_classifier, load_targets, r_squared, regress, train

REPO = Path(__file__).resolve().parents[2]


def discs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """16 × 16 crops (nm) of round cells of radius 2-6 pixels and height 100-400 nm, off centre by
    up to a pixel, with their "hidden parameters": radius and height, then functions of both (so
    that every one of the targets can be measured from the crop)."""
    yy, xx = np.mgrid[0:16, 0:16] - 7.5
    radius, height = rng.uniform(2, 6, n), rng.uniform(100, 400, n)
    crops = [h * (np.hypot(yy - cy, xx - cx) < r) + rng.normal(0, 3, (16, 16))
             for r, h, (cy, cx) in zip(radius, height, rng.uniform(-1, 1, (n, 2)))]
    base = np.stack([radius, height / 100], 1)
    targets = np.concatenate([base, base ** 2, base[:, :1] * base[:, 1:]] * 3, 1)[:, :len(TARGETS)]
    return np.stack(crops).astype(np.float32), targets


def dataset(opd: np.ndarray) -> CellDataset:
    return CellDataset(opd, np.full(len(opd), -1), ["a", "b", "c"], 0.3, {}, "discs")


def test_the_trunk_learns_to_measure_size_and_height():
    """Trained on 384 crops for 20 epochs, it measures radius and height of new crops (R² > 0.8;
    0.99 and 0.92 when written)."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    opd, targets = discs(384, rng)
    model, ckpt = train(dataset(opd), targets, TwinConfig(epochs=20, batch_size=32, lr=3e-3, ndf=8, max_shift=1), progress=False)
    test_opd, test_targets = discs(200, rng)
    r2 = r_squared(regress(model, ckpt, test_opd)[0], test_targets)
    assert r2[0] > 0.8 and r2[1] > 0.8, r2


def test_the_few_shot_classifier_folds_into_one_network():
    """Logistic regression on the standardised regressed parameters equals the folded network's
    logits (the model topgan export writes)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    opd, targets = discs(64, rng)
    model, ckpt = train(dataset(opd), targets, TwinConfig(epochs=1, batch_size=32, ndf=8), progress=False)
    measured = regress(model, ckpt, opd)[0]
    z = Standardiser(measured)
    label = np.digitize(targets[:, 0], [3.3, 4.7])          # small, medium, large
    clf = LogisticRegression(max_iter=2000).fit(z(measured), label)
    expected = z(measured) @ clf.coef_.T + clf.intercept_
    folded = fold_classifier(model, ckpt, z, clf.coef_, clf.intercept_, ["a", "b", "c"])
    with torch.no_grad():
        logits = folded(torch.as_tensor(opd).div(ckpt["opd_scale_nm"]).clamp(-1, 1).unsqueeze(1)).numpy()
    assert np.abs(logits - expected).max() < 1e-3 * (1 + np.abs(expected).max())


def test_a_file_without_hidden_parameters_is_refused_and_other_objects_are_dropped(tmp_path):
    opd, targets = discs(6, np.random.default_rng(2))
    arrays = {"opd": opd, "label": np.array([0, 1, 2, -1, -1, 0]), "classes": np.array(["a", "b", "c"])}
    np.savez(tmp_path / "plain.npz", **arrays)
    with pytest.raises(DataError, match="phantom_diameter_um"):
        load_targets(tmp_path / "plain.npz")
    hidden = targets.copy()
    hidden[3:5] = np.nan                                    # debris and a doublet: no parameters
    np.savez(tmp_path / "twin.npz", **arrays, **{f"phantom_{t}": hidden[:, k] for k, t in enumerate(TARGETS)})
    data, kept = load_targets(tmp_path / "twin.npz")
    assert len(data) == 4 and np.allclose(kept, targets[[0, 1, 2, 5]])


def test_finetune_recipe_twin_writes_one_network_that_export_writes_as_version_1(tmp_path, capsys):
    """topgan finetune --recipe twin: the regressor from --pretrained, logistic regression on what
    it measures, folded; topgan export writes it as an ordinary version-1 file with the same
    probabilities. It is the default recipe; without --pretrained it takes the committed trunk,
    which refuses crops of another size, and a GAN of `topgan pretrain` is refused with a hint."""
    from topgan.cli import main
    from topgan.export import load_model_file
    from topgan.finetune import load_classifier, predict
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    opd, targets = discs(90, rng)
    model, ckpt = train(dataset(opd), targets, TwinConfig(epochs=1, batch_size=32, ndf=8), progress=False)
    torch.save(ckpt, tmp_path / "twin.pt")
    label = np.digitize(targets[:, 0], [3.3, 4.7])
    np.savez(tmp_path / "cells.npz", opd=opd, label=label, classes=np.array(["small", "medium", "large"]),
             pixel_um=np.float32(0.3))
    common = ["--quiet", "finetune", "--data", str(tmp_path / "cells.npz"), "--shots", "5",
              "--test-per-class", "5", "--out", str(tmp_path / "clf.pt")]
    assert main(common) == 2
    assert "twin-regressor.pt was trained on 64x64 crops at 0.3 µm but" in capsys.readouterr().err
    assert main(common + ["--pretrained", str(REPO / "training" / "pretrained" / "sperm-gan.pt")]) == 2
    err = capsys.readouterr().err
    assert "not a twin-supervised regressor" in err and "--recipe cnn" in err and "Traceback" not in err
    assert main(common + ["--pretrained", str(tmp_path / "twin.pt")]) == 0
    assert "balanced accuracy on 15 held-out cells" in capsys.readouterr().out
    classifier, saved = load_classifier(tmp_path / "clf.pt")
    assert main(["--quiet", "export", str(tmp_path / "clf.pt"), "--out", str(tmp_path / "m.safetensors")]) == 0
    back, meta = load_model_file(tmp_path / "m.safetensors")
    assert meta["version"] == 1 and meta["classes"] == ["small", "medium", "large"]
    scale = saved["opd_scale_nm"]
    assert np.abs(predict(back, opd, scale) - predict(classifier, opd, scale)).max() < 1e-6
