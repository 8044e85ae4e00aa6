import copy

import pytest
import torch
import torch.nn as nn

from mmvireid.models.utils import route_by_modality, routing_mode
from mmvireid.structures import IR, RGB


class Branch(nn.Module):
    """conv -> BN -> ReLU, returning the BN output and the final map; it
    records the batch sizes it is called with."""

    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.bn.weight.data.uniform_(0.5, 1.5)
        self.bn.bias.data.uniform_(-0.5, 0.5)
        self.bn.running_mean.uniform_(-0.5, 0.5)
        self.bn.running_var.uniform_(0.5, 2.0)
        self.calls = []

    def forward(self, x):
        self.calls.append(x.shape[0])
        normed = self.bn(self.conv(x))
        return normed, normed.relu().mean(dim=(2, 3))


def branches():
    return nn.ModuleList([Branch(0), Branch(1)])


def batch(modality):
    torch.manual_seed(2)
    x = torch.randn(len(modality), 3, 6, 4, requires_grad=True)
    return x, torch.tensor(modality)


def per_modality_reference(heads, x, modality):
    """Training reference written with boolean masks: every modality's
    samples as one batch through their head, written into their rows."""
    maps = torch.zeros(x.shape[0], 4, 6, 4)
    pooled = torch.zeros(x.shape[0], 4)
    for m, head in enumerate(heads):
        mask = modality == m
        if mask.any():
            maps[mask], pooled[mask] = head(x[mask])
    return maps, pooled


def per_sample_reference(heads, x, modality):
    """Inference reference: every sample alone through its head."""
    outs = [heads[int(m)](x[i:i + 1]) for i, m in enumerate(modality)]
    return tuple(torch.cat(parts) for parts in zip(*outs))


def param_grads(module):
    return [p.grad for p in module.parameters()]


MIXES = [[RGB, IR, IR, RGB, IR], [IR, IR, IR], [RGB, RGB]]


@pytest.mark.parametrize('mix', MIXES)
def test_sub_batches_equal_the_masked_reference_exactly(mix):
    """Training: outputs, gradients and BN statistics as the per-modality
    computation, bit for bit (the routing only copies rows)."""
    heads = branches().train()
    ref_heads = copy.deepcopy(heads)
    x, modality = batch(mix)
    x_ref = x.detach().clone().requires_grad_(True)
    out = route_by_modality(x, modality, heads, sub_batches=True)
    ref = per_modality_reference(ref_heads, x_ref, modality)
    for got, want in zip(out, ref):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    weights = torch.randn_like(out[0])
    ((out[0] * weights).sum() + out[1].square().sum()).backward()
    ((ref[0] * weights).sum() + ref[1].square().sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=0)
    for head, ref_head in zip(heads, ref_heads):
        for got, want in zip(param_grads(head), param_grads(ref_head)):
            if want is None:  # the modality is absent
                assert got is None
            else:
                torch.testing.assert_close(got, want, rtol=0, atol=0)
        for key, value in ref_head.bn.state_dict().items():
            torch.testing.assert_close(head.bn.state_dict()[key], value,
                                       rtol=0, atol=0)


def test_sub_batches_skip_an_absent_modality():
    """Its branch is not called: no gradient (not a zero one), no BN batch
    counted."""
    heads = branches().train()
    x, modality = batch([IR, IR, IR])
    out = route_by_modality(x, modality, heads, sub_batches=True)
    out[1].sum().backward()
    assert heads[RGB].calls == [] and heads[IR].calls == [3]
    assert all(g is None for g in param_grads(heads[RGB]))
    assert heads[RGB].bn.num_batches_tracked == 0
    assert heads[IR].bn.num_batches_tracked == 1
    # BN statistics of a stream come from its modality's samples only
    assert heads[RGB].bn.running_mean.abs().max() <= 0.5


@pytest.mark.parametrize('mix', MIXES)
def test_whole_batch_equals_the_per_sample_reference(mix):
    """Inference: every sample as if alone through its own branch, also for
    a batch lacking a modality; the gradients as the per-sample ones."""
    heads = branches().eval()
    ref_heads = copy.deepcopy(heads)
    x, modality = batch(mix)
    x_ref = x.detach().clone().requires_grad_(True)
    out = route_by_modality(x, modality, heads, sub_batches=False)
    ref = per_sample_reference(ref_heads, x_ref, modality)
    for got, want in zip(out, ref):
        torch.testing.assert_close(got, want)
    # every branch ran once on the whole batch
    assert heads[RGB].calls == heads[IR].calls == [len(mix)]
    out[1].pow(2).sum().backward()
    ref[1].pow(2).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    for head, ref_head in zip(heads, ref_heads):
        for got, want in zip(param_grads(head), param_grads(ref_head)):
            if want is None:
                assert got.abs().max() == 0
            else:
                torch.testing.assert_close(got, want)


def test_a_branch_gives_other_numbers():
    """The reference tests above would pass for a routing that sends
    everything through one branch only if the branches were equal."""
    heads = branches().eval()
    x, modality = batch([RGB, IR])
    with torch.no_grad():
        out = route_by_modality(x, modality, heads, sub_batches=False)[1]
        wrong = heads[RGB](x[1:])[1]
    assert not torch.allclose(out[1:], wrong, atol=1e-3)


def test_tensor_output_keeps_its_structure():
    convs = [nn.Conv2d(3, 2, 1), nn.Conv2d(3, 2, 1)]
    x, modality = batch([IR, RGB, IR])
    for sub_batches in (True, False):
        out = route_by_modality(x, modality, convs, sub_batches=sub_batches)
        assert isinstance(out, torch.Tensor) and out.shape == (3, 2, 6, 4)
        torch.testing.assert_close(out[1:2], convs[RGB](x[1:2]))


@pytest.mark.parametrize('sub_batches', [True, False])
def test_bad_modality(sub_batches):
    heads = branches()
    x, _ = batch([RGB, IR, IR])
    with pytest.raises(ValueError, match=r'Neck: modality must have shape '
                       r'\(3,\), got \(2,\)'):
        route_by_modality(x, torch.tensor([RGB, IR]), heads, sub_batches,
                          owner='Neck')
    with pytest.raises(ValueError,
                       match=r'RGB \(0\) or IR \(1\), got values \[-1, 0, 2'):
        route_by_modality(x, torch.tensor([0, 2, -1]), heads, sub_batches)


def test_non_tensor_items_pass_through():
    """A patch embedding returns its tokens and the grid size: the grid
    size is the same for both branches and is returned as it is."""

    def embed(scale, grid):
        return lambda x: (x * scale, grid)

    x, modality = batch([IR, RGB, IR])
    for sub_batches in (True, False):
        tokens, grid = route_by_modality(
            x, modality, [embed(2., (6, 4)), embed(3., (6, 4))],
            sub_batches=sub_batches)
        assert grid == (6, 4)
        torch.testing.assert_close(tokens[1], x[1] * 2)
        torch.testing.assert_close(tokens[::2], x[::2] * 3)
        with pytest.raises(ValueError, match=r'Stem: the branches return '
                           r'different non-tensor outputs \[\(6, 4\), '
                           r'\(3, 2\)\]'):
            route_by_modality(x, modality,
                              [embed(2., (6, 4)), embed(3., (3, 2))],
                              sub_batches=sub_batches, owner='Stem')


class Routed(nn.Module):
    """A module that routes as the two-stream backbone does."""

    def __init__(self):
        super().__init__()
        self.heads = branches()

    def forward(self, x, modality):
        return route_by_modality(x, modality, self.heads)


def test_eager_inference_takes_sub_batches():
    """Without graph capture a branch sees its modality's samples only, in
    eval mode too (no branch runs on the other modality's images)."""
    model = Routed().eval()
    x, modality = batch([RGB, IR, IR, RGB, IR])
    with torch.no_grad():
        out = model(x, modality)
    assert model.heads[RGB].calls == [2] and model.heads[IR].calls == [3]
    ref = per_sample_reference(model.heads, x, modality)
    for got, want in zip(out, ref):
        torch.testing.assert_close(got, want)


def test_tracing_takes_the_whole_batch():
    """torch.jit.trace records one graph: traced on a mix, it serves other
    mixes only if it took the whole-batch path (sub-batch sizes would be
    baked in)."""
    model = Routed().eval()
    x, modality = batch([RGB, IR, IR, RGB])
    with torch.no_grad():
        traced = torch.jit.trace(model, (x.detach(), modality),
                                 check_trace=False)
    assert model.heads[RGB].calls == model.heads[IR].calls == [4]
    for mix in MIXES:
        x, modality = batch(mix)
        with torch.no_grad():
            for got, want in zip(traced(x, modality), model(x, modality)):
                torch.testing.assert_close(got, want)


def test_routing_mode_forces_either_way():
    """Whole batch in eager mode (what an exported graph computes), and
    sub-batches under tracing (what a FLOP counter should count of eager
    inference); an explicit sub_batches wins; the default comes back."""
    model = Routed().eval()
    x, modality = batch([RGB, IR, IR])
    with torch.no_grad():
        with routing_mode(sub_batches=False):
            model(x, modality)
            route_by_modality(x, modality, model.heads, sub_batches=True)
        assert model.heads[RGB].calls == [3, 1]
        assert model.heads[IR].calls == [3, 2]
        with routing_mode(sub_batches=True):
            torch.jit.trace(model, (x, modality), check_trace=False)
        assert model.heads[RGB].calls[2:] == [1]
        assert model.heads[IR].calls[2:] == [2]
        model(x, modality)
        assert model.heads[IR].calls[3:] == [2]


@pytest.mark.skipif(
    not hasattr(torch.export, 'Dim'), reason='torch.export.Dim: torch>=2.2')
def test_inference_exports_one_graph_for_every_mix():
    """torch.export with a dynamic batch traces one graph that serves
    batches lacking a modality too (sub-batches of data-dependent size do
    not export: BatchNorm tests them for emptiness)."""
    model = Routed().eval()
    x, modality = batch([RGB, IR, IR, RGB])
    n = torch.export.Dim('n', min=1)
    exported = torch.export.export(
        model, (x.detach(), modality),
        dynamic_shapes=({0: n}, {0: n})).module()
    for mix in MIXES + [[IR]]:
        x, modality = batch(mix)
        with torch.no_grad():
            for got, want in zip(exported(x, modality), model(x, modality)):
                torch.testing.assert_close(got, want, rtol=0, atol=0)
    # the check of the values is a runtime assertion of the graph
    with pytest.raises(RuntimeError):
        exported(batch([RGB, IR])[0], torch.tensor([RGB, 2]))
