"""`torch.compile(model, backend="tsuc")`: the entry point, three models against eager, graph
breaks, dynamic shapes, the compile cache, and errors that name the FX node."""

from __future__ import annotations

import os
import sys
import tomllib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import tsuc
from tsuc.tools import torch_backend
from tsuc.tools.torch_backend import STATS, TsucBackendError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module", autouse=True)
def dynamo_entry_point(tmp_path_factory):
    """Install pyproject's `torch_dynamo_backends` entry points as a tiny dist-info on sys.path
    (the worktree is not pip-installed), so torch finds "tsuc" exactly as it would after
    `pip install tsuc`: through the entry point, not through an import of ours."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        eps = tomllib.load(f)["project"]["entry-points"]["torch_dynamo_backends"]
    site = tmp_path_factory.mktemp("site")
    info = site / "tsuc_dynamo_test-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tsuc-dynamo-test\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[torch_dynamo_backends]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    sys.path.insert(0, str(site))
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
    sys.path.remove(str(site))


@pytest.fixture(autouse=True)
def fresh():
    torch._dynamo.reset()
    torch_backend.clear_cache()
    STATS.reset()
    yield
    torch._dynamo.reset()


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(x.flatten(1))


def models():
    torch.manual_seed(0)
    conv = ConvNet()
    with torch.no_grad():  # non-trivial batch-norm statistics
        conv.bn.running_mean.uniform_(-0.5, 0.5)
        conv.bn.running_var.uniform_(0.5, 2.0)
    return {
        "conv": (conv.eval(), torch.randn(2, 3, 8, 8)),
        "mlp": (nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).eval(), torch.randn(4, 64)),
        "encoder": (nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True).eval(), torch.randn(2, 5, 32)),
    }


def test_backend_is_found_through_the_entry_point():
    from torch._dynamo.backends.registry import lookup_backend

    assert lookup_backend("tsuc") is torch_backend.tsuc_backend


@pytest.mark.parametrize("name", ["conv", "mlp", "encoder"])
def test_cpu_target_matches_eager(name):
    model, x = models()[name]
    with torch.no_grad():
        want = model(x)
        fn = torch.compile(model, backend="tsuc", options={"target": "cpu"})
        got = fn(x)
        again = fn(x)
    assert isinstance(got, torch.Tensor) and got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(again, want, rtol=1e-4, atol=1e-5)
    assert STATS.compiles == 1 and STATS.graphs == 1 and STATS.cache_hits == 1


@pytest.mark.parametrize("name", ["conv", "mlp", "encoder"])
def test_tfmbs_target_equals_compiling_the_module(name):
    """The backend's artifact computes exactly what `tsuc.compile(module)` does for the fabric,
    and stays close to eager (quantised weights and activations)."""
    model, x = models()[name]
    with torch.no_grad():
        want = model(x)
        got = torch.compile(model, backend="tsuc", options={"target": "tfmbs", "w_planes": 3})(x)
    direct = tsuc.compile(model, target="tfmbs", options={"w_planes": 3}, example_inputs=(x,))(x.numpy())
    np.testing.assert_array_equal(got.numpy(), np.asarray(direct))
    rel = float(torch.linalg.norm(got - want) / torch.linalg.norm(want))
    assert rel < 0.2, rel
    assert rel > 0.0  # it really ran on the quantised fabric


def test_graph_break_gives_two_graphs():
    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(8, 8)
            self.b = nn.Linear(8, 3)

        def forward(self, x):
            y = torch.relu(self.a(x))
            torch._dynamo.graph_break()
            return self.b(y) * 2

    torch.manual_seed(1)
    model, x = Broken().eval(), torch.randn(2, 8)
    with torch.no_grad():
        got = torch.compile(model, backend="tsuc", options={"target": "cpu"})(x)
        torch.testing.assert_close(got, model(x), rtol=1e-5, atol=1e-6)
    assert STATS.graphs == 2 and STATS.compiles == 2


def test_new_shape_recompiles_and_dynamic_graph_compiles_per_shape():
    model, _ = models()["mlp"]
    with torch.no_grad():
        fn = torch.compile(model, backend="tsuc", options={"target": "cpu"})
        for batch in (2, 3, 5):
            x = torch.randn(batch, 64)
            torch.testing.assert_close(fn(x), model(x), rtol=1e-4, atol=1e-5)
        # dynamo marks the batch dimension dynamic after the first change: one more graph, not three
        assert STATS.graphs == 2 and STATS.compiles == 3
        STATS.reset()
        torch._dynamo.reset()
        fn = torch.compile(model, backend="tsuc", options={"target": "cpu"}, dynamic=True)
        for batch in (2, 3, 2):
            x = torch.randn(batch, 64)
            torch.testing.assert_close(fn(x), model(x), rtol=1e-4, atol=1e-5)
    assert STATS.graphs == 1 and STATS.compiles <= 2  # batch 2 may already be cached from above


def test_cache_keys_on_graph_shapes_options_and_weights(tmp_path):
    model, x = models()["mlp"]
    with torch.no_grad():
        torch.compile(model, backend="tsuc", options={"target": "tfmbs"})(x)
        torch._dynamo.reset()
        torch.compile(model, backend="tsuc", options={"target": "tfmbs"})(x)  # same key: no compile
        assert STATS.compiles == 1
        torch._dynamo.reset()
        torch.compile(model, backend="tsuc", options={"target": "tfmbs", "w_planes": 2})(x)  # options differ
        assert STATS.compiles == 2
        torch._dynamo.reset()
        model[0].weight.mul_(0.5)  # weights differ
        torch.compile(model, backend="tsuc", options={"target": "tfmbs", "w_planes": 2})(x)
        assert STATS.compiles == 3
        # on disk: a fresh process (empty memory cache) loads the artifact instead of compiling
        opts = {"target": "tfmbs", "cache_dir": str(tmp_path)}
        torch._dynamo.reset()
        first = torch.compile(model, backend="tsuc", options=opts)(x)
        assert STATS.compiles == 4 and len(os.listdir(tmp_path)) == 1
        torch_backend.clear_cache()
        torch._dynamo.reset()
        second = torch.compile(model, backend="tsuc", options=opts)(x)
        assert STATS.compiles == 4
        torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_error_names_the_fx_node():
    model = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 4)).eval()
    fn = torch.compile(model, backend="tsuc", options={"target": "tfmbs", "fallback": "error"})
    with torch.no_grad(), pytest.raises(TsucBackendError, match=r"FX node 'sigmoid' \(Sigmoid, module .*1'?\]?\)") as info:
        fn(torch.randn(2, 8))
    assert "\n" not in str(info.value)
    with torch.no_grad(), pytest.raises(TsucBackendError, match="w_planes"):
        torch._dynamo.reset()
        torch.compile(model, backend="tsuc", options={"target": "tfmbs", "w_planes": 99})(torch.randn(2, 8))

