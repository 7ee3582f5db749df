"""End-to-end tour: build a small CNN as ONNX, compile it with tsuc, run it, profile it.

    python examples/quickstart.py [--target cpu] [--workdir DIR]

It writes `quickstart.onnx` and `quickstart.tsuc` into the work folder, runs the artifact
on a random image, prints the outputs next to onnxruntime's and the profile.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import tsuc


def build_cnn(path: str, seed: int = 0) -> str:
    """conv3x3(3->8) -> relu -> maxpool -> conv3x3(8->16) -> relu -> global avg pool -> gemm(16->10) -> softmax."""
    rng = np.random.default_rng(seed)

    def init(name, *shape):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        return numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32), name)

    inits = [init("conv1.w", 8, 3, 3, 3), init("conv1.b", 8), init("conv2.w", 16, 8, 3, 3), init("conv2.b", 16),
             init("fc.w", 10, 16), init("fc.b", 10)]
    nodes = [
        helper.make_node("Conv", ["image", "conv1.w", "conv1.b"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2.w", "conv2.b"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(nodes, "quickstart_cnn", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 32, 32])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])], initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="cpu", help="tsuc target (see `tsuc targets`)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tsuc-quickstart"))
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    model = build_cnn(os.path.join(args.workdir, "quickstart.onnx"))
    artifact = os.path.join(args.workdir, f"quickstart_{args.target}.tsuc")
    exe = tsuc.compile(model, target=args.target, output=artifact, input_shapes={"image": [1, 3, 32, 32]})
    print(f"compiled {model}\n      -> {artifact} ({os.path.getsize(artifact):,} bytes), target {exe.target}, "
          f"{len(exe.manifest['segments'])} segment(s): " + ", ".join(f"{s['name']}[{s['target']}]" for s in exe.manifest["segments"]))

    image = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    probs = exe.run({"image": image})["probs"]
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"image": image})[0]
    print("tsuc        :", np.array2string(probs[0], precision=4))
    print("onnxruntime :", np.array2string(ref[0], precision=4))
    print(f"max |diff|  : {float(np.abs(probs - ref).max()):.3g}  (argmax tsuc {int(probs.argmax())}, onnxruntime {int(ref.argmax())})")
    from tsuc.runtime.report import format_profile

    print(format_profile(exe.profile()))


if __name__ == "__main__":
    main()
