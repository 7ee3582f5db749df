"""The torch path: `tsuc.compile(module, target="xla", example_inputs=...)` on a transformer
encoder layer, an LSTM tagger and a small conv net, against torch's own outputs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import tsuc


class Tagger(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(50, 16)
        self.lstm = torch.nn.LSTM(16, 32, batch_first=True)
        self.fc = torch.nn.Linear(32, 5)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return torch.log_softmax(self.fc(h), -1)


class ConvNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2, groups=2)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        y = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.c1(x))), 2)
        return self.fc(torch.nn.functional.gelu(self.c2(y)).mean((2, 3)))


def _cases():
    torch.manual_seed(0)
    return {
        "transformer_encoder_layer": (torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True).eval(),
                                      (torch.randn(2, 7, 32),)),
        "lstm_tagger": (Tagger().eval(), (torch.randint(0, 50, (2, 9)),)),
        "conv_net": (ConvNet().eval(), (torch.randn(2, 3, 16, 16),)),
    }


@pytest.mark.parametrize("name", ["transformer_encoder_layer", "lstm_tagger", "conv_net"])
def test_torch_module_on_xla_matches_torch(name, tmp_path):
    module, example = _cases()[name]
    exe = tsuc.compile(module, target="xla", example_inputs=example, output=str(tmp_path / "m.tsuc"))
    assert exe.manifest["op_stats"]["on_host"] == 0, exe.manifest.get("notes")
    with torch.no_grad():
        ref = module(*example)
    out = exe(*example)
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
