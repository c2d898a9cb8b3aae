"""Recurrent layers written as plain loops: a gate-configurable LSTM (Greff et al.'s variants), a GRU, a tanh RNN.

The LSTM follows Greff et al. (2017), "LSTM: A Search Space Odyssey", section II, with y the block output:

    z_t = g(W_z x_t + R_z y_{t-1} + b_z)                        block input
    i_t = sigmoid(W_i x_t + R_i y_{t-1} + p_i * c_{t-1} + b_i)    input gate
    f_t = sigmoid(W_f x_t + R_f y_{t-1} + p_f * c_{t-1} + b_f)    forget gate
    c_t = z_t * i_t + c_{t-1} * f_t                              cell
    o_t = sigmoid(W_o x_t + R_o y_{t-1} + p_o * c_t + b_o)        output gate (peeps at the new cell)
    y_t = h(c_t) * o_t                                           g = h = tanh

and its eight variants each change one thing: NIG i = 1, NFG f = 1, NOG o = 1, NIAF g = identity,
NOAF h = identity, NP no peepholes (p = 0), CIFG f = 1 - i, FGR the gates also receive the previous step's
gate activations [i, f, o]_{t-1} through a recurrent matrix (Greff's nine extra matrices, as one).

Speed (these runs dominate the suite's time). The input projections of all steps are one matmul before the loop;
each step is one fused matmul of the previous output with every gate's recurrent weights. Gate pre-activations
are laid out gates first (i, f, o, whichever exist), block input last, so that without peepholes one sigmoid
covers every gate. The LSTM runs the whole sequence as one autograd node with backpropagation through time
written out (``_FusedLSTM``): per-op autograd bookkeeping is what makes a Python loop slow at these sizes. Its
step-by-step autograd form (``forward(fused=False)``) is kept as the reference the tests check it against. GRU and
RNN are plain autograd loops over ``unbind(0)`` (indexing ``xw[t]`` in the loop makes the backward pass grow
quadratically with the length). benchmarks/test_bench_recurrent.py compares the LSTM with ``torch.nn.LSTM``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from suite.lab.names import CELLS, VARIANTS  # noqa: F401 (re-exported)



def _uniform(shape, hidden: int) -> nn.Parameter:
    """PyTorch's recurrent-layer default, U(-1/sqrt(hidden), 1/sqrt(hidden))."""
    bound = 1 / math.sqrt(hidden)
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


def _time_major(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """(batch, time, features) -> contiguous (time * batch, features), with time and batch."""
    b, t, _ = x.shape
    return x.transpose(0, 1).reshape(t * b, -1), t, b


@dataclass(frozen=True)
class _Spec:
    """What a variant computes, for the fused loop: its gates, peepholes and activation functions."""

    hidden: int
    gates: tuple[str, ...]
    cifg: bool
    niaf: bool
    noaf: bool
    fgr: bool

    def part(self, name: str) -> slice:
        """Where gate ``name`` ("i", "f", "o") or the block input "z" sits among the pre-activations."""
        k = len(self.gates) if name == "z" else self.gates.index(name)
        return slice(k * self.hidden, (k + 1) * self.hidden)


def _addmm(c: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """c + a @ b, per member when the operands carry a leading member dimension."""
    return torch.addmm(c, a, b) if a.dim() == 2 else torch.baddbmm(c, a, b)


# The recurrence below runs one cell, with tensors (features, batch), or K stacked cells of one variant, with
# (K, features, batch): gate rows are indexed through _rows, matmuls go through _addmm. A single run keeps the
# plain 2-D kernels and indices, which are faster on CPU than batched ones with K = 1.

def _rows(s: slice | None, stacked: bool):
    """An index that selects rows ``s`` of (features, batch), or of every member of (K, features, batch)."""
    return s if s is None or not stacked else (slice(None), s)


def _gate_rows(spec: _Spec, stacked: bool) -> tuple:
    """Indices of the gates i, f, o (None where the variant has none) and of the block input z."""
    return tuple(_rows(spec.part(g), stacked) if g in spec.gates or g == "z" else None for g in ("i", "f", "o", "z"))

def _tanh(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """tanh(x) written into ``out``; on CPU as 2 sigmoid(2x) - 1, because torch's float32 tanh takes about twice
    the time of these three kernels there (absolute error below 2e-7 in float32). Elsewhere one kernel wins."""
    if x.device.type != "cpu":
        return torch.tanh(x, out=out)
    torch.sigmoid(torch.mul(x, 2, out=out), out=out)
    return out.mul_(2).sub_(1)


@torch.no_grad()
def _lstm_loop(xw, w_rec, peep_i, peep_f, peep_o, w_gates, spec: _Spec):
    """The forward recurrence, feature-major: xw is (time, [K,] n_pre, batch), w_rec ([K,] n_pre, hidden),
    peepholes ([K,] hidden). Returns gate activations (time, [K,] n_gates, batch), block inputs z, cells
    (time + 1, [K,] hidden, batch) with the zero initial state first, h(c) and y (time, [K,] hidden, batch)."""
    steps, *lead, _, batch = xw.shape
    hidden, n_gates = spec.hidden, len(spec.gates) * spec.hidden
    si, sf, so, sz = _gate_rows(spec, bool(lead))
    peeps = [(s, p[..., None]) for s, p in ((si, peep_i), (sf, peep_f)) if p is not None]
    peep_o = peep_o[..., None] if peep_o is not None else None
    # Gates that do not wait for the new cell share one sigmoid: all of them unless o has a peephole.
    early = _rows(slice(0, n_gates - hidden if peep_o is not None else n_gates), bool(lead))
    head = _rows(slice(0, n_gates), bool(lead))
    new = xw.new_empty
    gates, z_all = new(steps, *lead, n_gates, batch), new(steps, *lead, hidden, batch)
    cells = xw.new_zeros(steps + 1, *lead, hidden, batch)  # cells[t + 1] = c_t, cells[0] the initial zero state
    hc_all = cells[1:] if spec.noaf else new(steps, *lead, hidden, batch)
    ys = hc_all if so is None else new(steps, *lead, hidden, batch)
    y = xw.new_zeros(*lead, hidden, batch)
    for t, xw_t in enumerate(xw.unbind(0)):
        pre = _addmm(xw_t, w_rec, y)
        g, c_prev, c, hc = gates[t], cells[t], cells[t + 1], hc_all[t]
        if spec.fgr and t > 0:
            (pre[head].addmm_ if not lead else pre[head].baddbmm_)(w_gates, gates[t - 1])
        for s, p in peeps:
            pre[s].addcmul_(p, c_prev)
        torch.sigmoid(pre[early], out=g[early])
        z = _tanh(pre[sz], out=z_all[t]) if not spec.niaf else z_all[t].copy_(pre[sz])
        if spec.cifg:  # f = 1 - i: c = c_{t-1} + i (z - c_{t-1})
            torch.lerp(c_prev, z, g[si], out=c)
        else:
            iz = z if si is None else g[si] * z
            torch.add(iz, c_prev, out=c) if sf is None else torch.addcmul(iz, g[sf], c_prev, out=c)
        if peep_o is not None:
            torch.sigmoid(pre[so].addcmul_(peep_o, c), out=g[so])
        if not spec.noaf:
            _tanh(c, out=hc)
        y = hc if so is None else torch.mul(g[so], hc, out=ys[t])
    return gates, z_all, cells, hc_all, ys


class _FusedLSTM(torch.autograd.Function):
    """The whole sequence as one autograd node: forward without recording a graph, backpropagation through time
    written out, and the weight gradients as one matmul over all steps instead of one per step.

    Tensors are feature-major, ([K,] features, batch), so that each gate is a block of rows that element-wise
    kernels write in place. Input ``xw`` is (time, [K,] n_pre, batch): input projections plus bias. Returns y as
    (time, [K,] hidden, batch). Checked against the step-by-step autograd path for every variant.
    """

    @staticmethod
    def forward(ctx, xw, w_rec, peep_i, peep_f, peep_o, w_gates, spec: _Spec):
        gates, z_all, cells, hc_all, ys = _lstm_loop(xw, w_rec, peep_i, peep_f, peep_o, w_gates, spec)
        ctx.spec = spec
        ctx.save_for_backward(w_rec, peep_i, peep_f, peep_o, w_gates, gates, z_all, cells, hc_all, ys)
        return ys

    @staticmethod
    def backward(ctx, grad_y):
        spec = ctx.spec
        w_rec, peep_i, peep_f, peep_o, w_gates, gates, z_all, cells, hc_all, ys = ctx.saved_tensors
        steps, *lead, hidden, batch = grad_y.shape
        n_gates = len(spec.gates) * hidden
        si, sf, so, sz = _gate_rows(spec, bool(lead))
        head = _rows(slice(0, n_gates), bool(lead))
        at = (slice(None),) * (len(lead) + 1)  # d_pre[at + (t,)]: step t's block
        sig_bw = torch.ops.aten.sigmoid_backward.grad_input  # (grad, output, grad_input=out)
        tanh_bw, tanh_bw_into = torch.ops.aten.tanh_backward, torch.ops.aten.tanh_backward.grad_input
        # ([K,] n_pre, time, batch): each step writes its block in place, and the weight gradients read it as one
        # matrix (per member).
        d_pre = grad_y.new_empty(*lead, n_gates + hidden, steps, batch)
        grad_y = grad_y.contiguous()  # it often arrives transposed, and every step adds one slice of it
        rec_t, wg_t = w_rec.mT, (w_gates.mT if spec.fgr else None)
        p_i, p_f, p_o = (p[..., None] if p is not None else None for p in (peep_i, peep_f, peep_o))
        grads = grad_y.unbind(0)
        dy, dc_next, d_g = grads[-1], None, None  # what flows into step t from step t + 1
        for t in reversed(range(steps)):
            g, z, hc, c_prev, dp = gates[t], z_all[t], hc_all[t], cells[t], d_pre[at + (t,)]
            if so is not None:
                do = dy * hc if d_g is None else torch.addcmul(d_g[so], dy, hc)
                sig_bw(do, g[so], grad_input=dp[so])
                dhc = dy * g[so]
            else:
                dhc = dy
            dc = dhc if spec.noaf else tanh_bw(dhc, hc)
            if dc_next is not None:
                dc = dc + dc_next
            if p_o is not None:
                dc = torch.addcmul(dc, dp[so], p_o)
            if si is not None:
                di = dc * (z - c_prev) if spec.cifg else dc * z
                sig_bw(di if d_g is None else di + d_g[si], g[si], grad_input=dp[si])
                dz = dc * g[si]
            else:
                dz = dc
            dp[sz].copy_(dz) if spec.niaf else tanh_bw_into(dz, z, grad_input=dp[sz])
            if sf is not None:
                df = dc * c_prev if d_g is None else torch.addcmul(d_g[sf], dc, c_prev)
                sig_bw(df, g[sf], grad_input=dp[sf])
                dc_next = dc * g[sf]
            else:
                dc_next = dc - dc * g[si] if spec.cifg else dc
            if p_i is not None:
                dc_next = torch.addcmul(dc_next, dp[si], p_i)
            if p_f is not None:
                dc_next = torch.addcmul(dc_next, dp[sf], p_f)
            if t > 0:
                dy = _addmm(grads[t - 1], rec_t, dp)
                if wg_t is not None:
                    d_g = torch.matmul(wg_t, dp[head])

        def outer(d, prev):
            """The sum over steps and batch of d_t prev_{t-1}^T (per member), with a zero state before the first
            step."""
            prev = torch.cat([prev.new_zeros(1, *prev.shape[1:]), prev[:-1]]).movedim(0, -2).flatten(-2)
            return torch.matmul(d.flatten(-2), prev.mT)

        def d_peep(s, c):
            return (d_pre[s] * c.movedim(0, -2)).sum((-2, -1))

        return (d_pre.movedim(-2, 0), outer(d_pre, ys),
                d_peep(si, cells[:-1]) if peep_i is not None else None,
                d_peep(sf, cells[:-1]) if peep_f is not None else None,
                d_peep(so, cells[1:]) if peep_o is not None else None,
                outer(d_pre[..., :n_gates, :, :], gates) if spec.fgr else None, None)


def _stack(tensors: list) -> torch.Tensor | None:
    """K members' copies of one parameter stacked on a leading member dimension; one member's as it is."""
    if tensors[0] is None:
        return None
    return tensors[0] if len(tensors) == 1 else torch.stack(tensors)


def _project(weight_in: torch.Tensor, bias: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Input projections plus bias for every step in one matmul (per member): x ([K,] batch, time, n_in), weights
    ([K,] n_pre, n_in) -> feature-major (time, [K,] n_pre, batch)."""
    *lead, b, t, n_in = x.shape
    xw = _addmm(bias[..., None], weight_in, x.movedim(-1, -3).mT.reshape(*lead, n_in, t * b))
    return xw.view(*lead, -1, t, b).movedim(-2, 0)  # each step's ([K,] n_pre, batch) block is a strided view


class LSTM(nn.Module):
    """One LSTM layer of Greff's ``variant``; ``forward`` maps (batch, time, n_in) to (batch, time, hidden)."""

    def __init__(self, n_in: int, hidden: int, variant: str = "vanilla", forget_bias: float = 1.0):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown LSTM variant {variant!r}; known: {', '.join(VARIANTS)}")
        self.variant, self.hidden = variant, hidden
        # Which gates have parameters. CIFG keeps the input gate and derives f = 1 - i from it.
        gates = tuple(g for g, dropped in (("i", "NIG"), ("f", "NFG"), ("o", "NOG"))
                      if variant != dropped and not (g == "f" and variant == "CIFG"))
        self.spec = _Spec(hidden, gates, variant == "CIFG", variant == "NIAF", variant == "NOAF", variant == "FGR")
        self.gates = gates
        n_pre = (len(gates) + 1) * hidden
        self.weight_in = _uniform((n_pre, n_in), hidden)
        self.weight_rec = _uniform((n_pre, hidden), hidden)
        self.bias = nn.Parameter(torch.zeros(n_pre))
        # Peepholes on i and f look at c_{t-1}, on o at c_t; none for NP.
        self.peep = nn.ParameterDict({} if variant == "NP" else {g: _uniform(hidden, hidden) for g in gates})
        self.weight_gates = _uniform((len(gates) * hidden,) * 2, hidden) if variant == "FGR" else None
        with torch.no_grad():
            if "f" in gates:
                self.bias[self.part("f")].fill_(forget_bias)
            elif variant == "CIFG":  # f = 1 - sigmoid(b_i) = sigmoid(-b_i): the same initial forget gate
                self.bias[self.part("i")].fill_(-forget_bias)

    def part(self, name: str) -> slice:
        return self.spec.part(name)

    def forward(self, x: torch.Tensor, fused: bool = True) -> torch.Tensor:
        """``fused=False`` runs the equations step by step under autograd: slower, kept as the reference."""
        if fused:
            return self.forward_grouped([self], x)
        flat, steps, batch = _time_major(x)
        return self._steps(torch.addmm(self.bias, flat, self.weight_in.t()).view(steps, batch, -1))

    @staticmethod
    def forward_grouped(layers: list[LSTM], x: torch.Tensor) -> torch.Tensor:
        """K layers of one variant at once, each on its own input: x (K, batch, time, n_in) -> (K, batch, time,
        hidden); for one layer, x and the result have no K dimension. Gradients reach each layer's parameters."""
        xw, rec = LSTM._grouped_inputs(layers, x)
        return _FusedLSTM.apply(xw, *rec, layers[0].spec).movedim(0, -1).movedim(-3, -1)

    @staticmethod
    def _grouped_inputs(layers: list[LSTM], x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        params = {name: _stack([getattr(m, name) if name[:5] != "peep_" else m.peep.get(name[5:]) for m in layers])
                  for name in ("weight_in", "bias", "weight_rec", "peep_i", "peep_f", "peep_o", "weight_gates")}
        xw = _project(params.pop("weight_in"), params.pop("bias"), x)
        return xw, tuple(params.values())

    @torch.no_grad()
    def states(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the cell computes at each step, each (batch, time, hidden): the gates it has ("i", "f", "o"; CIFG's
        "f" is 1 - i), the block input "z", the cell "c" and the output "y"."""
        xw, rec = self._grouped_inputs([self], x)
        gates, z, cells, _, ys = _lstm_loop(xw, *rec, self.spec)
        out = {g: gates[:, self.part(g)] for g in self.gates} | {"z": z, "c": cells[1:], "y": ys}
        if self.variant == "CIFG":
            out["f"] = 1 - out["i"]
        return {k: v.permute(2, 0, 1) for k, v in out.items()}

    def _steps(self, xw: torch.Tensor) -> torch.Tensor:
        """The equations as written, one step at a time under autograd; xw is (time, batch, n_pre)."""
        batch, n_gates = xw.shape[1], len(self.gates) * self.hidden
        y = c = xw.new_zeros(batch, self.hidden)
        prev_gates = xw.new_zeros(batch, n_gates)
        act_in = (lambda v: v) if self.variant == "NIAF" else torch.tanh
        act_out = (lambda v: v) if self.variant == "NOAF" else torch.tanh
        outputs = []
        for xw_t in xw.unbind(0):
            pre = torch.addmm(xw_t, y, self.weight_rec.t())
            gate_pre = pre[:, :n_gates]
            if self.weight_gates is not None:
                gate_pre = torch.addmm(gate_pre, prev_gates, self.weight_gates.t())
            gates = {g: gate_pre[:, self.part(g)] for g in self.gates}
            for g in ("i", "f"):
                if g in self.peep:
                    gates[g] = gates[g] + self.peep[g] * c
            gates = {g: torch.sigmoid(v) if g != "o" else v for g, v in gates.items()}
            i = gates.get("i", 1.0)
            f = 1 - i if self.variant == "CIFG" else gates.get("f", 1.0)
            c = f * c + i * act_in(pre[:, n_gates:])
            if "o" in gates:
                gates["o"] = torch.sigmoid(gates["o"] + self.peep["o"] * c if "o" in self.peep else gates["o"])
            y = gates.get("o", 1.0) * act_out(c)
            prev_gates = torch.cat([gates[g] for g in self.gates], 1)
            outputs.append(y)
        return torch.stack(outputs, 1)


class GRU(nn.Module):
    """Cho et al.'s GRU with PyTorch's equations (reset gate applied after the recurrent matmul)."""

    def __init__(self, n_in: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.weight_in = _uniform((3 * hidden, n_in), hidden)
        self.weight_rec = _uniform((3 * hidden, hidden), hidden)
        self.bias_in = nn.Parameter(torch.zeros(3 * hidden))
        self.bias_rec = nn.Parameter(torch.zeros(3 * hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_grouped([self], x)

    @staticmethod
    def forward_grouped(layers: list[GRU], x: torch.Tensor) -> torch.Tensor:
        """K GRUs at once: x (K, batch, time, n_in) -> (K, batch, time, hidden) (no K for one)."""
        w_in, w_rec, b_in, b_rec = (_stack([getattr(m, n) for m in layers])
                                    for n in ("weight_in", "weight_rec", "bias_in", "bias_rec"))
        xw = _batch_major_projection(w_in, b_in, x)
        h = x.new_zeros(*x.shape[:-2], layers[0].hidden)
        rec, b_rec, sizes = w_rec.mT, b_rec.unsqueeze(-2), (2 * layers[0].hidden, layers[0].hidden)
        outputs = []
        for xw_t in xw.unbind(0):
            (x_rz, x_n), (h_rz, h_n) = xw_t.split(sizes, -1), _addmm(b_rec, h, rec).split(sizes, -1)
            r, z = torch.sigmoid(x_rz + h_rz).chunk(2, -1)
            n = torch.tanh(torch.addcmul(x_n, r, h_n))
            h = torch.lerp(n, h, z)  # (1 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs, -2)


class RNN(nn.Module):
    """Elman's simple recurrent layer, h_t = tanh(W x_t + R h_{t-1} + b)."""

    def __init__(self, n_in: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.weight_in = _uniform((hidden, n_in), hidden)
        self.weight_rec = _uniform((hidden, hidden), hidden)
        self.bias = nn.Parameter(torch.zeros(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_grouped([self], x)

    @staticmethod
    def forward_grouped(layers: list[RNN], x: torch.Tensor) -> torch.Tensor:
        """K RNNs at once: x (K, batch, time, n_in) -> (K, batch, time, hidden) (no K for one)."""
        w_in, w_rec, bias = (_stack([getattr(m, n) for m in layers]) for n in ("weight_in", "weight_rec", "bias"))
        xw = _batch_major_projection(w_in, bias, x)
        h = x.new_zeros(*x.shape[:-2], layers[0].hidden)
        rec = w_rec.mT
        outputs = []
        for xw_t in xw.unbind(0):
            h = torch.tanh(_addmm(xw_t, h, rec))
            outputs.append(h)
        return torch.stack(outputs, -2)


def _batch_major_projection(weight_in: torch.Tensor, bias: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """x ([K,] batch, time, n_in), weights ([K,] n_out, n_in) -> (time, [K,] batch, n_out) for the autograd loops
    (``unbind(0)``: indexing ``xw[t]`` in the loop makes the backward pass grow quadratically with the length)."""
    *lead, b, t, n_in = x.shape
    xw = _addmm(bias.unsqueeze(-2), x.transpose(-3, -2).reshape(*lead, t * b, n_in), weight_in.mT)
    return xw.view(*lead, t, b, -1).movedim(-3, 0)


def recurrent_layer(cell: str, n_in: int, hidden: int, variant: str = "vanilla",
                    forget_bias: float = 1.0) -> nn.Module:
    """An LSTM of ``variant`` (with ``forget_bias``), a GRU or a tanh RNN."""
    if cell == "lstm":
        return LSTM(n_in, hidden, variant, forget_bias)
    if cell == "gru":
        return GRU(n_in, hidden)
    if cell == "rnn":
        return RNN(n_in, hidden)
    raise ValueError(f"unknown cell {cell!r}; known: {', '.join(CELLS)}")


class SequenceModel(nn.Module):
    """A recurrent layer read out linearly at the last step: (batch, time, n_in) -> (batch, n_out)."""

    def __init__(self, cell: str, n_in: int, hidden: int, n_out: int, variant: str = "vanilla",
                 forget_bias: float = 1.0):
        super().__init__()
        self.rnn = recurrent_layer(cell, n_in, hidden, variant, forget_bias)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run([self], x, None)

    @staticmethod
    def forward_grouped(models: list[SequenceModel], x: torch.Tensor,
                        last: torch.Tensor | None = None) -> torch.Tensor:
        """K models of one kind at once, each on its own input x (K, batch, time, n_in) (or one input (batch,
        time, n_in) for all), read out at step ``last[k]`` (default: the last step) -> (K, batch, n_out)."""
        if len(models) == 1:  # one model runs alone, on the plain kernels
            return SequenceModel._run(models, x if x.dim() == 3 else x[0], None if last is None else last[0])[None]
        return SequenceModel._run(models, x if x.dim() == 4 else x.expand(len(models), *x.shape), last)

    @staticmethod
    def _run(models: list[SequenceModel], x: torch.Tensor, last) -> torch.Tensor:
        ys = type(models[0].rnn).forward_grouped([m.rnn for m in models], x)  # ([K,] batch, time, hidden)
        if last is None:
            y_last = ys[..., -1, :]
        else:
            y_last = ys[..., last, :] if x.dim() == 3 else ys[torch.arange(len(models)), :, last]
        w, b = _stack([m.out.weight for m in models]), _stack([m.out.bias for m in models])
        return _addmm(b.unsqueeze(-2), y_last, w.mT)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
