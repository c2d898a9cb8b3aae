"""The convolutional toolkit (suite.lab.nn.conv) and the chapter-5 training helpers (suite.lab.vision): shapes,
weight counts and receptive fields against the papers' arithmetic, shortcuts and gates at their limits, shifts and
permutations, and the chapter-5 ablations' members trained one at a time."""

import math

import pytest
import torch
from torch import nn

from suite.context import Config, Diverged, RunContext
from suite.lab.data import Dataset, dataset
from suite.lab.nn.conv import (Block, ConvNet, conv_stack, conv_unit, conv_weights, n_params, pool, receptive_field,
                               shift)
from suite.lab.vision import offsets, permuted, shift_tolerance, train_classifier
from suite.plan import plan
from suite.registry import discover

CHAPTER5 = ["conv_vs_dense", "pooling_shift", "stacked_kernels", "factorized_kernels", "degradation"]


@pytest.mark.parametrize("dims,size", [(1, (40,)), (2, (8, 8))])
def test_same_padding_keeps_the_size_and_stride_halves_it(dims, size):
    x = torch.randn(3, 4, *size)
    assert conv_unit(4, 6, 5, dims)(x).shape == (3, 6, *size)
    assert conv_unit(4, 6, 3, dims, stride=2)(x).shape == (3, 6, *[(s + 1) // 2 for s in size])
    assert pool("max", 2, dims)(x).shape == (3, 4, *[s // 2 for s in size])


def test_bad_kernels_and_blocks_raise_value_errors():
    with pytest.raises(ValueError, match="odd"):
        conv_unit(1, 1, 4)
    with pytest.raises(ValueError, match="dims"):
        conv_unit(1, 1, 3, dims=3)
    with pytest.raises(ValueError, match="2-D"):
        conv_stack(1, 1, 3, 1, dims=1, factorized=True)
    with pytest.raises(ValueError, match="highway"):
        Block(4, 8, "highway")
    with pytest.raises(ValueError, match="unknown block"):
        Block(4, 4, "dense")
    with pytest.raises(ValueError, match="unknown pooling"):
        pool("median")


def test_weight_counts_and_fields_match_vgg_and_inception_arithmetic():
    c = 8
    # Simonyan & Zisserman (2015), section 2.3: three 3x3 layers, 27 C^2 weights and a 7x7 field; one 7x7, 49 C^2.
    assert sum(conv_weights(conv_stack(c, c, 3, 3))) == 27 * c * c
    assert sum(conv_weights(conv_stack(c, c, 7, 1))) == 49 * c * c
    assert receptive_field(3, 3) == receptive_field(7, 1) == 7
    assert receptive_field(3, 2) == receptive_field(5, 1) == 5
    # Szegedy et al. (2016), section 3.2: 1 x n then n x 1 is 2n C^2 against n^2 C^2 (3x3: 33% fewer).
    assert sum(conv_weights(conv_stack(c, c, 3, 1, factorized=True))) == 6 * c * c
    assert 1 - 6 / 9 == pytest.approx(1 / 3)


def test_a_stack_of_three_3x3_convolutions_sees_exactly_a_7x7_field():
    stack = conv_stack(1, 1, 3, 3)
    for conv in stack.modules():
        if isinstance(conv, nn.Conv2d):
            nn.init.ones_(conv.weight)  # positive everywhere: no ReLU cuts a path
    x = torch.ones(1, 1, 15, 15, requires_grad=True)
    stack(x)[0, 0, 7, 7].backward()
    touched = (x.grad[0, 0] != 0).nonzero()
    assert touched.min(0).values.tolist() == [4, 4] and touched.max(0).values.tolist() == [10, 10]


def test_a_residual_block_with_a_zero_body_passes_relu_of_its_input():
    block = Block(4, 4, "residual", bn=False)
    for p in block.body.parameters():
        nn.init.zeros_(p)
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(block(x), torch.relu(x))
    projected = Block(4, 8, "residual", stride=2)
    assert projected.shortcut is not None and projected(x).shape == (2, 8, 4, 4)


def test_a_highway_block_carries_its_input_when_the_gate_is_shut_and_transforms_when_open():
    x = torch.randn(2, 4, 8, 8)
    shut = Block(4, 4, "highway", carry_bias=-50.0, bn=False)
    assert torch.allclose(shut(x), x, atol=1e-6) and shut.gate.max() < 1e-6
    wide_open = Block(4, 4, "highway", carry_bias=50.0, bn=False)
    assert torch.allclose(wide_open(x), torch.relu(wide_open.body(x)), atol=1e-6)


def test_a_convnet_reads_flat_rows_and_shaped_inputs_alike_and_counts_its_parameters():
    torch.manual_seed(0)
    net = ConvNet((8, 8), nn.Sequential(conv_unit(1, 4, 3), pool("avg")), 10, head="flatten")
    x = torch.randn(5, 64)
    assert torch.equal(net(x), net(x.view(5, 1, 8, 8)))
    assert n_params(net) == (9 * 4 + 4) + (4 * 16 * 10 + 10)
    with pytest.raises(ValueError, match="head"):
        ConvNet((8, 8), nn.Identity(), 10, head="attention")


def test_shift_moves_pixels_and_fills_with_zero():
    x = torch.arange(1.0, 17.0).view(1, 16)
    right = shift(x, (4, 4), (0, 1)).view(4, 4)
    assert right[:, 0].eq(0).all() and torch.equal(right[:, 1:], x.view(4, 4)[:, :3])
    assert torch.equal(shift(x, (4, 4), (0, 0)), x)
    assert shift(x, (4, 4), (4, 0)).eq(0).all()
    assert offsets(2, 1) == [(2,), (-2,)] and len(offsets(1, 2)) == 4


def test_a_shift_invariant_model_keeps_every_prediction_and_a_pixel_detector_does_not():
    torch.manual_seed(0)
    x = torch.randn(64, 64)
    total = ConvNet((8, 8), nn.Identity(), 10)  # global average: blind to where a pixel is, not to the fill
    torch.nn.init.normal_(total.out.weight)
    acc, same = shift_tolerance(total, x, torch.zeros(64, dtype=torch.long), (8, 8), 0)
    assert same == 1.0
    corner = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with torch.no_grad():
        corner[1].weight.zero_()
        corner[1].bias.zero_()
        corner[1].weight[1, 0] = 1.0  # class 1 exactly when the top-left pixel is positive
    y = (x[:, 0] > 0).long()
    acc, same = shift_tolerance(corner, x, y, (8, 8), 1)
    assert acc < 1.0 and same < 1.0


def test_permuted_inputs_keep_every_value_and_label():
    data = dataset("digits")
    perm = permuted(data)
    assert torch.equal(perm.y_train, data.y_train)
    assert torch.equal(perm.x_test.sort(1).values, data.x_test.sort(1).values)
    assert not torch.equal(perm.x_test, data.x_test)
    assert torch.equal(permuted(data).x_val, perm.x_val)  # one fixed permutation


def _ctx(seed=0, **cfg):
    base = {"data": "digits", "epochs": 1, "lr": 0.01, "batch_size": 32, "optimizer": "adam"}
    return RunContext("test", "smoke", Config(base | cfg), seed, torch.device("cpu"))


def test_train_classifier_reports_the_fit_and_returns_diverged_without_raising():
    data = dataset("digits")

    def build():
        return ConvNet(data.shape, conv_unit(1, 4, 3), data.n_classes, head="flatten")

    out = train_classifier(_ctx(), build, data, extra=lambda model: {"mode": float(model.training)})
    assert out["train_err"] == pytest.approx(1 - out["train_acc"]) and out["mode"] == 0.0
    assert 0.5 < out["test_acc"] <= 1.0 and math.isfinite(out["train_loss"])
    ctx = _ctx(lr=1e6, optimizer="sgd")
    out = train_classifier(ctx, build, data)
    assert isinstance(out, Diverged) and ctx.metrics["n_params"] == n_params(build())


@pytest.fixture
def float64():
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(dtype)


@pytest.mark.parametrize("name", CHAPTER5)
def test_members_trained_in_one_call_get_the_numbers_of_their_calls_alone(float64, name):
    abl = discover()[name]

    first = plan(abl, "smoke", seeds=2)[0]
    specs = [s for s in plan(abl, "smoke", seeds=2) if s.factors == first.factors]  # one variant, seeds 0 and 1
    assert [s.seed for s in specs] == [0, 1]

    def contexts():
        return [RunContext(name, "smoke", Config(s.config), s.seed, torch.device("cpu")) for s in specs]

    together = abl.train(contexts())
    alone = [abl.train([ctx])[0] for ctx in contexts()]
    assert together == alone


def test_population_statistics_are_the_averages_of_the_training_batches_and_leave_momentum_alone():
    from suite.lab.inference import population_statistics

    torch.manual_seed(0)
    net = ConvNet((8, 8), conv_unit(1, 3, 3, bn=True), 10)
    conv, norm = net.body[0], net.body[1]
    x = torch.randn(512, 64)
    assert population_statistics(net, x, batch=256) == 1
    with torch.no_grad():
        z = [conv(b.view(-1, 1, 8, 8)) for b in x.split(256)]
    assert torch.allclose(norm.running_mean, torch.stack([b.mean((0, 2, 3)) for b in z]).mean(0), atol=1e-6)
    assert torch.allclose(norm.running_var, torch.stack([b.var((0, 2, 3)) for b in z]).mean(0), atol=1e-5)
    assert norm.momentum == 0.1 and not net.training
    assert population_statistics(ConvNet((8, 8), conv_unit(1, 3, 3), 10), x) == 0
