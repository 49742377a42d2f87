"""Weight averaging (training/soup.py): the mean it writes, and the inputs it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import DataError, ModelError, UsageError
from training.soup import average_weights, check_coefficients, main


def test_average_is_the_coefficient_weighted_mean_per_variable():
    a = [np.array([[0.0, 2.0]], np.float32), np.array([4.0], np.float32)]
    b = [np.array([[4.0, 6.0]], np.float32), np.array([0.0], np.float32)]
    mean = average_weights([a, b], [0.25, 0.75])
    np.testing.assert_allclose(mean[0], [[3.0, 5.0]])
    np.testing.assert_allclose(mean[1], [1.0])
    assert mean[0].dtype == np.float32


def test_average_refuses_different_networks():
    with pytest.raises(DataError, match="not the same network"):
        average_weights([[np.zeros((2, 2))], [np.zeros((3, 2))]], [0.5, 0.5])


@pytest.mark.parametrize("coefs", [[0.5, 0.6], [1.2, -0.2], [1.0], [float("nan"), 0.5], [float("inf"), 0.0]])
def test_coefficients_must_be_a_mean_one_per_model(coefs):
    with pytest.raises(UsageError):
        check_coefficients(coefs, 2)


def test_cli_refuses_a_missing_file_in_one_line(tmp_path, capsys):
    rc = main(["--weights", str(tmp_path / "a.weights.h5"), "--weights", str(tmp_path / "b.weights.h5"),
               "--out-dir", str(tmp_path / "soup")])
    assert rc == ModelError.exit_code
    err = capsys.readouterr().err
    assert err.startswith("error: weights not found") and err.count("\n") == 1


@pytest.mark.training
@pytest.mark.slow
def test_cli_refuses_files_that_are_not_the_generator_in_one_line(tmp_path, capsys):
    pytest.importorskip("tensorflow", reason="the generator needs Keras with TensorFlow (make test installs it)")
    import keras

    other = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    other.save_weights(tmp_path / "other.weights.h5")
    (tmp_path / "corrupt.weights.h5").write_bytes(b"not hdf5")
    for bad in ("other", "corrupt"):
        rc = main(["--weights", str(tmp_path / f"{bad}.weights.h5"), "--weights", str(tmp_path / f"{bad}.weights.h5"),
                   "--out-dir", str(tmp_path / "soup"), "--input-size", "64"])
        err = capsys.readouterr().err
        assert rc == ModelError.exit_code, err
        assert err.startswith("error: not LGPS generator weights") and err.count("\n") == 1, err
    assert not (tmp_path / "soup").exists()


def test_cli_never_replaces_existing_weights(tmp_path, capsys):
    (tmp_path / "a.weights.h5").write_bytes(b"x")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "best.weights.h5").write_bytes(b"a run's own")
    rc = main(["--weights", str(tmp_path / "a.weights.h5"), "--weights", str(tmp_path / "a.weights.h5"),
               "--out-dir", str(tmp_path / "run")])
    assert rc == UsageError.exit_code and "exists" in capsys.readouterr().err
    assert (tmp_path / "run" / "best.weights.h5").read_bytes() == b"a run's own"


@pytest.mark.parametrize("size", ["100", "0"])
def test_cli_refuses_an_input_size_the_generator_cannot_take(tmp_path, capsys, size):
    rc = main(["--weights", "a", "--weights", "b", "--out-dir", str(tmp_path), "--input-size", size])
    assert rc == UsageError.exit_code and "multiple of 32" in capsys.readouterr().err


@pytest.mark.training
@pytest.mark.slow
def test_cli_writes_generator_weights_that_are_the_mean(tmp_path):
    pytest.importorskip("tensorflow", reason="the generator needs Keras with TensorFlow (make test installs it)")
    import keras

    from training.model import build_generator

    paths, weights = [], []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        g = build_generator(64)
        # the decoder is randomly initialised per seed; shift it so every variable differs
        g.set_weights([w + seed for w in g.get_weights()])
        paths.append(tmp_path / f"g{seed}.weights.h5")
        g.save_weights(paths[-1])
        weights.append(g.get_weights())
    out = tmp_path / "soup"
    assert main(["--weights", str(paths[0]), "--weights", str(paths[1]), "--coef", "0.75", "--coef", "0.25",
                 "--out-dir", str(out), "--input-size", "64"]) == 0
    soup = build_generator(64)
    soup.load_weights(out / "best.weights.h5")
    for got, w0, w1 in zip(soup.get_weights(), weights[0], weights[1], strict=True):
        np.testing.assert_allclose(got, 0.75 * w0 + 0.25 * w1, rtol=1e-5, atol=1e-5)
    assert (out / "soup.json").is_file()
