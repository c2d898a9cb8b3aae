"""Greedy layer-wise pretraining (denoising autoencoders, RBMs with CD-1) and the pretraining_vs_init ablation."""

import pytest
import torch

from suite.lab.data import dataset
from suite.lab.nn.mlp import MLP
from suite.lab.nn.autoencoders import RBM, DenoisingAutoencoder, pretrain, train_dae, train_rbm
from suite.store import Store

X = dataset("digits").x_train  # standardized 8x8 digits, 1,077 examples


def _gen():
    return torch.Generator().manual_seed(0)


def test_a_trained_denoising_autoencoder_reconstructs_better_than_a_random_one():
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 32)
    dae = DenoisingAutoencoder(layer, "sigmoid", noise=0.25)
    before = dae.reconstruction_error(X)
    w0 = layer.weight.detach().clone()
    train_dae(dae, X, epochs=3, lr=0.01, batch_size=32, generator=_gen())
    assert dae.reconstruction_error(X) < 0.5 * before
    assert not torch.equal(layer.weight, w0)  # the encoder is the network's own layer, trained in place


def test_masking_noise_zeroes_about_the_declared_fraction():
    torch.manual_seed(0)
    dae = DenoisingAutoencoder(torch.nn.Linear(64, 8), "tanh", noise=0.25)
    ones = torch.ones(2000, 64)
    assert (dae.corrupt(ones) == 0).float().mean().item() == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("visible, hidden, data", [("gaussian", "binary", X),
                                                    ("binary", "binary", torch.sigmoid(X)),
                                                    ("gaussian", "nrelu", X)])
def test_rbm_trained_by_cd1_reconstructs_better_than_a_random_one(visible, hidden, data):
    torch.manual_seed(0)
    rbm = RBM(data.shape[1], 32, visible, hidden)
    before = rbm.reconstruction_error(data)
    train_rbm(rbm, data, epochs=3, lr=0.01 if visible == "gaussian" else 0.1, batch_size=32, generator=_gen())
    assert rbm.reconstruction_error(data) < before


def test_cd1_gradient_vanishes_when_the_reconstruction_equals_the_data():
    # With hidden biases far negative nothing fires, so v1 = visible bias; set it to the data's only row.
    rbm = RBM(3, 2, "gaussian", "binary")
    rbm.b_hidden.fill_(-1e4)
    v = torch.tensor([[0.5, -1.0, 2.0]])
    rbm.b_visible.copy_(v[0])
    assert all(g.abs().max().item() == 0 for g in rbm.cd1_gradients(v))


@pytest.mark.parametrize("method", ["dae", "rbm"])
def test_pretraining_improves_every_layer_and_changes_the_network(method):
    torch.manual_seed(0)
    model = MLP(64, 32, 3, 10, "sigmoid", "xavier")
    before = [layer.weight.detach().clone() for layer in model.hidden]
    out_before = model.out.weight.detach().clone()
    rows = pretrain(model, X, method, epochs=2, lr=0.01 if method == "dae" else 0.05, batch_size=32,
                    generator=_gen())
    assert [r["layer"] for r in rows] == [1, 2, 3]
    assert all(r["after"] < r["before"] for r in rows)
    assert all(not torch.equal(w, layer.weight) for w, layer in zip(before, model.hidden))
    assert torch.equal(out_before, model.out.weight)  # the output layer is left to fine-tuning


def test_rbm_stack_maps_exactly_onto_tanh_units():
    # The same RBMs (same seed) pretrain a sigmoid and a tanh network: tanh layer i outputs 2 sigmoid_i - 1.
    nets = {}
    for act in ("sigmoid", "tanh"):
        torch.manual_seed(0)
        nets[act] = MLP(64, 16, 3, 10, act, "xavier")
        torch.manual_seed(1)
        pretrain(nets[act], X, "rbm", epochs=1, lr=0.05, batch_size=64, generator=_gen())
    with torch.no_grad():
        nets["sigmoid"](X[:50], capture=True)
        nets["tanh"](X[:50], capture=True)
    for s, t in zip(nets["sigmoid"].post, nets["tanh"].post):
        assert torch.allclose(t, 2 * s - 1, atol=1e-5)


def test_smoke_tier_end_to_end(cli, tmp_path):
    out = cli("run", "pretraining_vs_init", "--tier", "smoke", "--no-progress", results=tmp_path)
    assert out.returncode == 0, out.stderr
    records = list(Store(tmp_path).records("pretraining_vs_init"))
    assert len(records) == 6 and {r["status"] for r in records} == {"ok"}
    for rec in records:
        assert {"test_acc", "val_acc", "act_var_log10_ratio_init", "grad_msq_log10_ratio_init"} <= set(rec["metrics"])
        stats = set(rec["probes"]["stat"])
        assert {"activation_var", "grad_preact_msq"} <= stats
        pretrained = rec["factors"]["init"] in ("dae", "rbm")
        assert ("recon_gain_log10" in rec["metrics"]) == pretrained
        assert ("recon_error_after" in stats) == pretrained
        assert set(rec["curves"]["epoch"]) == {0, 1, 2}  # the smoke tier's two fine-tuning epochs, and init
    assert "H1" in out.stdout and "claim pretraining_vs_init" in out.stdout
