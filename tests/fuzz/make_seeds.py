#!/usr/bin/env python3
"""Writes the binary seeds of the ONNX fuzz harness into tests/fuzz/corpus/onnx/.

Run once by hand (with the onnx package) when the seeds need to change; the .onnx files
are committed, small on purpose (the fuzzer mutates a few KiB far faster than MiBs),
and each reaches a part of the loader the others do not:

  everything.onnx   metadata, doc strings, every attribute type, every tensor dtype in
                    raw_data and in the typed fields, sparse initializers, value_info
                    with symbolic dims, seq/map/optional/sparse types, If subgraphs with
                    captures, an unknown domain, a model-local function, training info
  external.onnx     a tensor stored as external data (refused: no base folder)
  unknown-field.onnx an Add model carrying protobuf fields ONNX does not define
  minimal.onnx      the smallest useful model: one Relu
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "onnx")


def save(model, name, extra=b""):
    data = model.SerializeToString() + extra
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")


def everything():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    flag = helper.make_tensor_value_info("flag", TensorProto.BOOL, [])
    seq = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2])
    mp = helper.make_value_info(
        "mp", helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [None])))
    opt = helper.make_value_info(
        "o", helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.INT32, [4])))
    sp_in = helper.make_value_info("sp", helper.make_sparse_tensor_type_proto(TensorProto.FLOAT, [4, 4]))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, None)

    inits = [numpy_helper.from_array(np.array([1.5, -2, 3e-5], np.float32), "w")]
    for dt, arr in [
        (TensorProto.INT8, [-128, 127]), (TensorProto.UINT8, [0, 255]),
        (TensorProto.INT16, [-32768, 32767]), (TensorProto.UINT16, [0, 65535]),
        (TensorProto.INT32, [-2**31, 2**31 - 1]), (TensorProto.INT64, [-2**63, 2**63 - 1]),
        (TensorProto.BOOL, [0, 1]), (TensorProto.FLOAT16, [15360, 16384]),
        (TensorProto.DOUBLE, [1e-300, -1e300]), (TensorProto.UINT32, [0, 2**32 - 1]),
        (TensorProto.UINT64, [0, 2**64 - 1]), (TensorProto.BFLOAT16, [16256, 16384]),
        (TensorProto.COMPLEX64, [complex(1.0, 2.0)]),
    ]:
        name = TensorProto.DataType.Name(dt).lower()
        inits.append(helper.make_tensor("typed_" + name, dt, [len(arr)], arr))
    for dt, np_t in [(TensorProto.INT8, np.int8), (TensorProto.UINT16, np.uint16),
                     (TensorProto.INT64, np.int64), (TensorProto.DOUBLE, np.float64)]:
        inits.append(helper.make_tensor("raw_" + TensorProto.DataType.Name(dt).lower(), dt, [3],
                                        np.arange(3).astype(np_t).tobytes(), raw=True))
    inits.append(helper.make_tensor("int4", TensorProto.INT4, [3], [-8, 7, 1]))
    inits.append(helper.make_tensor("uint4", TensorProto.UINT4, [3], [0, 15, 1]))
    inits.append(helper.make_tensor("strs", TensorProto.STRING, [2], [b"a\"b", b""]))
    inits.append(numpy_helper.from_array(np.zeros((0, 3), np.float32), "empty"))

    then_g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["a"])], "then_g", [],
                               [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["b"])], "else_g", [],
                               [helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 3])])
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("sv", TensorProto.FLOAT, [2], [1.0, 2.0]),
        helper.make_tensor("si", TensorProto.INT64, [2], [0, 5]), [4, 4])
    custom = helper.make_node(
        "Custom", ["x", "", "w"], ["t1", ""], domain="com.example", name="custom",
        doc_string="a node doc",
        alpha=0.5, n=-3, s="hi", fs=[1.0, 2.5, float("inf")], is_=[1, 2], ss=["x", ""],
        t=helper.make_tensor("tv", TensorProto.INT64, [2], [4, 5]),
        ts=[helper.make_tensor("t1", TensorProto.FLOAT, [1], [1.0])],
        g=then_g, gs=[else_g], sp=sparse, sps=[sparse],
        tp=helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [2])),
        tps=[helper.make_tensor_type_proto(TensorProto.INT64, None)])
    ref = helper.make_attribute_ref("r", onnx.AttributeProto.INT)
    ref.ref_attr_name = "outer"
    custom.attribute.append(ref)
    nodes = [
        custom,
        helper.make_node("If", ["flag"], ["y"], then_branch=then_g, else_branch=else_g),
        helper.make_node("Split", ["x"], ["z", ""], axis=0),
        helper.make_node("MyFunc", ["x"], ["fo"], domain="local"),
    ]
    graph = helper.make_graph(nodes, "main", [x, flag, seq, mp, opt, sp_in], [y, z], inits,
                              doc_string="graph doc",
                              value_info=[helper.make_tensor_value_info("t1", TensorProto.FLOAT, ["N", 3])],
                              sparse_initializer=[sparse])
    func = helper.make_function("local", "MyFunc", ["a"], ["b"],
                                [helper.make_node("Relu", ["a"], ["b"])],
                                [helper.make_opsetid("", 18)])
    model = helper.make_model(graph, producer_name="mof fuzz seeds", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 18),
                                             helper.make_opsetid("com.example", 1),
                                             helper.make_opsetid("local", 1)],
                              functions=[func], doc_string="model doc", domain="org.mof",
                              model_version=7)
    model.ir_version = 9
    helper.set_model_props(model, {"k": "v", "a": "b"})
    ti = onnx.TrainingInfoProto()
    ti.algorithm.CopyFrom(helper.make_graph([], "algo", [], []))
    model.training_info.append(ti)
    return model


def external():
    t = numpy_helper.from_array(np.ones(4, np.float32), "w")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", "16")):
        e = t.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [t])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def add_model():
    g = helper.make_graph([helper.make_node("Add", ["x", "c"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
                          [numpy_helper.from_array(np.ones((2, 2), np.float32), "c")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def minimal():
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def main():
    os.makedirs(OUT, exist_ok=True)
    save(everything(), "everything.onnx")
    save(external(), "external.onnx")
    # Field 99 varint 5, field 100 bytes "hi": unknown to ONNX, kept by the loader.
    save(add_model(), "unknown-field.onnx", extra=b"\x98\x06\x05\xa2\x06\x02hi")
    save(minimal(), "minimal.onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
