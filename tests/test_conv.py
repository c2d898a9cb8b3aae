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
    assert torch.allclose(shut(x), x, atol=1e-6) and shut.gate is None  # training passes keep no gate
    assert torch.allclose(shut.eval()(x), x, atol=1e-6) and shut.gate.max() < 1e-6
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


def test_global_pooling_keeps_every_prediction_under_a_shift_and_a_pixel_detector_does_not():
    torch.manual_seed(0)
    x = torch.zeros(64, 8, 8)
    x[:, 2:6, 2:6] = torch.randn(64, 4, 4)  # a zero border: a 1-pixel shift loses nothing
    x = x.view(64, 64)
    total = ConvNet((8, 8), nn.Identity(), 10)  # global average of the pixels: blind to where they are
    nn.init.normal_(total.out.weight)
    y = total(x).argmax(1)
    acc, same = shift_tolerance(total, x, y, (8, 8), 1)
    assert acc == same == 1.0
    corner = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with torch.no_grad():
        corner[1].weight.zero_()
        corner[1].bias.zero_()
        corner[1].weight[1, 2 * 8 + 2] = 1.0  # class 1 exactly when pixel (2, 2) is positive
    y = (x[:, 2 * 8 + 2] > 0).long()
    acc, same = shift_tolerance(corner, x, y, (8, 8), 1)
    assert acc < 0.9 and same < 0.9


def test_one_dimensional_blocks_and_shifts():
    x = torch.randn(3, 4, 40)
    for kind in ("plain", "residual", "highway"):
        assert Block(4, 4, kind, dims=1)(x).shape == (3, 4, 40)
    seq = torch.arange(1.0, 6.0).view(1, 5)
    assert shift(seq, (5,), (2,)).tolist() == [[0.0, 0.0, 1.0, 2.0, 3.0]]


def test_channels_last_changes_the_layout_not_the_function():
    torch.manual_seed(0)
    body = nn.Sequential(conv_unit(1, 8, 3, bn=True), pool("max"), Block(8, 8, "residual"))
    fast = ConvNet((8, 8), body, 10)
    plain = ConvNet((8, 8), body, 10, channels_last=False)
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(5, 64)
    assert fast.channels_last and not plain.channels_last
    assert torch.allclose(fast.eval()(x), plain.eval()(x), atol=1e-5)
    with pytest.raises(ValueError, match="2-D"):
        ConvNet((40,), nn.Identity(), 10, channels_last=True)


@pytest.mark.parametrize("data,counts", [
    ("mnist1d", {"cnn": (5210, 1875), "mlp": (15210, 10000)}),  # Greydanus's CNN and MLP
    ("digits", {"cnn": (12560, 5625), "mlp": (17610, 10000)}),
])
def test_conv_vs_dense_networks_have_the_parameter_counts_their_docstring_gives(data, counts):
    from ablations.conv_vs_dense import _largest, _model

    shape, features = {"mnist1d": ((40,), 40), "digits": ((8, 8), 64)}[data]
    fake = Dataset(data, torch.zeros(2, features), torch.zeros(2, dtype=torch.long), None, None, None, None, shape, 10)
    for kind, (params, largest) in counts.items():
        net = _model(kind, fake)
        assert (n_params(net), _largest(net)["max_layer_weights"]) == (params, largest), kind


def test_the_full_tiers_networks_build_for_28x28_images():
    from ablations.conv_vs_dense import _model

    x, y = torch.zeros(2, 784), torch.zeros(2, dtype=torch.long)
    mnist = Dataset("mnist", x, y, None, None, None, None, (28, 28), 10)
    assert _model("cnn", mnist)(mnist.x_train).shape == (2, 10)
    blocks = [Block(16, 16, "highway") for _ in range(18)]
    deep = ConvNet((28, 28), nn.Sequential(conv_unit(1, 16, 3, bn=True), *blocks), 10)
    assert deep.eval()(mnist.x_train).shape == (2, 10)


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
def test_members_trained_in_one_call_one_at_a_time_get_the_numbers_of_their_calls_alone(float64, name):
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


def test_final_metrics_are_measured_again_with_population_statistics():
    from suite.lab.inference import final_metrics
    from suite.lab.loop import evaluate, fit

    data = dataset("digits")
    ctx = _ctx(seed=3)
    ctx.reseed()
    model = ConvNet(data.shape, nn.Sequential(conv_unit(1, 4, 3, bn=True), Block(4, 4, "plain")), 10)
    [logged] = fit([ctx], model, data, epochs=2, lr=0.3, batch_size=64, optimizer="momentum")
    running = model.body[0][1].running_mean.clone()
    out = final_metrics(model, data)
    assert not torch.allclose(model.body[0][1].running_mean, running)  # the population's, not the running average
    (loss,), (acc,) = evaluate(model, data.x_train, data.y_train)
    assert (out["train_loss"], out["train_acc"], out["train_err"]) == (loss, acc, 1 - acc)
    assert out["train_loss"] != logged["train_loss"] and set(out) >= {"val_acc", "val_loss", "test_acc"}
